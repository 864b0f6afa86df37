using System.Text.Json;

namespace AgentSched.Protocol;

/// <summary>
/// Parses one request line (without its newline) into an <see cref="ApiRequest"/>, or the error
/// response it deserves. Unknown fields are ignored, so newer clients can talk to older daemons.
/// </summary>
public static class RequestParser
{
    /// <summary>Parses and validates <paramref name="line"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out ApiRequest? request, out ProtocolError? error, out byte[]? idJson)
    {
        request = null;
        idJson = null;
        var fields = new Fields();
        if (!System.Text.Unicode.Utf8.IsValid(line))
        {
            // Checked first: the reader leaves the bytes of strings unchecked until they are read,
            // and an id is echoed as sent.
            error = new(ErrorCode.BadJson, "the line is not valid UTF-8");
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = new(ErrorCode.BadJson, "a request is one JSON object per line");
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                fields.Set(name, ref reader);
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                error = new(ErrorCode.BadJson, "a request is one JSON object per line");
                return false;
            }
        }
        catch (JsonException e)
        {
            error = new(ErrorCode.BadJson, $"not valid JSON: {FirstSentence(e.Message)}");
            return false;
        }
        catch (InvalidOperationException)
        {
            // GetString on an escape that is not a character: a lone surrogate such as \ud800.
            error = new(ErrorCode.BadJson, "not valid JSON: a string escapes a lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair)");
            return false;
        }
        idJson = fields.Id;
        error = fields.Validate(out request);
        return error is null;
    }

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }

    /// <summary>The raw fields of a request, before validation.</summary>
    private sealed class Fields
    {
        private readonly Dictionary<string, JsonTokenType> _wrongType = [];
        private long? _v, _pid, _tid, _windowMs, _homeCpu, _budgetUs, _afterNs;
        private string? _op, _class;

        public byte[]? Id { get; private set; }

        public void Set(string name, ref Utf8JsonReader reader)
        {
            switch (name)
            {
                case "v": _v = Integer(name, ref reader); break;
                case "op": _op = Text(name, ref reader); break;
                case "id": Id = IdValue(ref reader); break;
                case "pid": _pid = Integer(name, ref reader); break;
                case "tid": _tid = Integer(name, ref reader); break;
                case "class": _class = Text(name, ref reader); break;
                case "window_ms": _windowMs = Integer(name, ref reader); break;
                case "home_cpu": _homeCpu = Integer(name, ref reader); break;
                case "budget_us": _budgetUs = Integer(name, ref reader); break;
                case "after_ns": _afterNs = Integer(name, ref reader); break;
                default: reader.Skip(); break;
            }
        }

        public ProtocolError? Validate(out ApiRequest? request)
        {
            request = null;
            if (_wrongType.Count > 0)
            {
                KeyValuePair<string, JsonTokenType> bad = _wrongType.First();
                string expected = bad.Key is "op" or "class" ? "a string" : "an integer";
                return Bad($"{bad.Key} must be {expected} (got {Describe(bad.Value)})");
            }
            if (_v is null)
            {
                return Bad($"v is required (this daemon speaks version {ApiProtocol.Version})");
            }
            if (_v != ApiProtocol.Version)
            {
                return new(ErrorCode.UnsupportedVersion, $"protocol version {_v} is not supported; this daemon speaks version {ApiProtocol.Version}");
            }
            if (_op is null)
            {
                return Bad("op is required");
            }
            if (!ApiOpNames.TryParse(System.Text.Encoding.UTF8.GetBytes(_op), out ApiOp op))
            {
                return new(ErrorCode.UnknownOp, $"unknown op '{Truncate(_op)}' (known: {string.Join(", ", Enum.GetValues<ApiOp>().Select(ApiOpNames.Name))})");
            }

            var r = new ApiRequest(op) { IdJson = Id };
            switch (op)
            {
                case ApiOp.Mark:
                    if (RequirePid(out int pid) is { } pidError) return pidError;
                    if (_class is null) return Bad("class is required: burst, batch or normal");
                    if (!TaskClassNames.TryParse(_class, out TaskClass c)) return Bad($"class must be burst, batch or normal (got '{Truncate(_class)}')");
                    if (Range("window_ms", _windowMs, ApiProtocol.MinWindowMs, ApiProtocol.MaxWindowMs, out int? window) is { } e1) return e1;
                    if (Range("home_cpu", _homeCpu, 0, 1 << 20, out int? home) is { } e2) return e2;
                    if (Range("budget_us", _budgetUs, ApiProtocol.MinBudgetUs, ApiProtocol.MaxBudgetUs, out int? budget) is { } e3) return e3;
                    r = r with { Pid = pid, Class = c, WindowMs = window, HomeCpu = home, BudgetUs = budget };
                    break;
                case ApiOp.Unmark:
                    if (RequirePid(out int upid) is { } upidError) return upidError;
                    r = r with { Pid = upid };
                    break;
                case ApiOp.StepBegin:
                case ApiOp.StepEnd:
                case ApiOp.StepGrant:
                case ApiOp.StepRevoke:
                    if (Range("tid", _tid, 1, int.MaxValue, out int? tid) is { } e4) return e4;
                    if (op is ApiOp.StepBegin or ApiOp.StepGrant)
                    {
                        if (Range("window_ms", _windowMs, ApiProtocol.MinWindowMs, ApiProtocol.MaxWindowMs, out int? sw) is { } e5) return e5;
                        if (Range("budget_us", _budgetUs, ApiProtocol.MinBudgetUs, ApiProtocol.MaxBudgetUs, out int? sb) is { } e6) return e6;
                        r = r with { WindowMs = sw, BudgetUs = sb };
                    }
                    r = r with { Tid = tid };
                    break;
                case ApiOp.Steps:
                    if (RequirePid(out int spid) is { } spidError) return spidError;
                    if (_afterNs is < 0) return Bad($"after_ns must be 0 or more (got {_afterNs})");
                    r = r with { Pid = spid, AfterNs = _afterNs };
                    break;
            }
            request = r;
            return null;
        }

        private ProtocolError? RequirePid(out int pid)
        {
            pid = 0;
            if (_pid is null)
            {
                return Bad("pid is required");
            }
            if (_pid is < 1 or > int.MaxValue)
            {
                return Bad($"pid must be a positive integer (got {_pid})");
            }
            pid = (int)_pid;
            return null;
        }

        private static ProtocolError? Range(string name, long? value, long min, long max, out int? result)
        {
            result = null;
            if (value is null)
            {
                return null;
            }
            if (value < min || value > max)
            {
                return Bad($"{name} must be between {min} and {max} (got {value})");
            }
            result = (int)value;
            return null;
        }

        private long? Integer(string name, ref Utf8JsonReader reader)
        {
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long value))
            {
                return value;
            }
            _wrongType[name] = reader.TokenType;
            reader.Skip();
            return null;
        }

        private string? Text(string name, ref Utf8JsonReader reader)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                return reader.GetString();
            }
            _wrongType[name] = reader.TokenType;
            reader.Skip();
            return null;
        }

        private static byte[]? IdValue(ref Utf8JsonReader reader)
        {
            if (reader.TokenType is JsonTokenType.Number or JsonTokenType.String)
            {
                // Echo the id exactly as sent, escapes included.
                return reader.HasValueSequence ? null : (reader.TokenType == JsonTokenType.String
                    ? [(byte)'"', .. reader.ValueSpan, (byte)'"']
                    : reader.ValueSpan.ToArray());
            }
            reader.Skip();
            return null;
        }

        private static string Describe(JsonTokenType t) => t switch
        {
            JsonTokenType.Number => "a number out of range or with a fraction",
            JsonTokenType.String => "a string",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.Null => "null",
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            _ => t.ToString(),
        };

        /// <summary>The first 40 characters (39 when the 40th would split a surrogate pair), with "..." when cut.</summary>
        private static string Truncate(string s) =>
            s.Length <= 40 ? s : s[..(char.IsHighSurrogate(s[39]) ? 39 : 40)] + "...";

        private static ProtocolError Bad(string message) => new(ErrorCode.BadRequest, message);
    }
}
