using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload fuzz</c>: a seeded fuzzer of agentschedd's socket protocol
/// (docs/protocol.md). Several connections at once send pipelined lines of every kind a careless or
/// hostile client sends — valid requests, valid JSON with wrong types, huge numbers, deep nesting,
/// unknown ops and versions, invalid UTF-8 and lone surrogates, NUL and control bytes, garbage,
/// blank lines, lines over the length limit — written in pieces split at random bytes, and end
/// some connections in the middle of a line. It checks what the protocol promises: every complete
/// non-blank line gets exactly one answer, in order; every answer is one valid UTF-8 JSON object
/// with <c>"v":1</c>, a boolean <c>ok</c> and, when false, a documented error code
/// (<see cref="ErrorCode.All"/>) and a message; a numeric id comes back as sent; an over-long line
/// is answered <c>line_too_long</c>; the daemon is still answering afterwards. It also reports the
/// daemon's RSS before and after (found through <c>SO_PEERCRED</c> on the socket).
/// <para>Safe against the machine it runs on, even as root: every pid, tid or id it writes is its
/// own pid or tid, or one that cannot exist (above the kernel's largest pid_max), or no positive
/// integer. Mutations insert or replace bytes but never add a digit or drop a digit or a minus
/// sign; one can split a number ("4242" into "424]2"), which leaves the line no valid JSON, and the
/// daemon acts on no part of a line it cannot parse whole. Last, each line is read back before it
/// goes: one that is valid JSON and names any other task in a top-level pid or tid is replaced with
/// a ping.</para>
/// </summary>
internal static class ProtocolFuzzer
{
    /// <summary>Above the largest pid_max Linux allows (2^22): no task has such an id.</summary>
    internal const long NoSuchPid = (1L << 22) + 1;

    private const string Punctuation = "{}[]\":,\\ tfn";

    private static readonly string[] Ops = ["ping", "mark", "unmark", "step_begin", "step_end", "status", "stats", "steps", "step_grant", "step_revoke"];

    public sealed record Options(string SocketPath, int Seed = 1, long Lines = 100_000, int Connections = 4);

    public sealed record Result(
        long Lines, long ExpectedAnswers, long Answers, IReadOnlyDictionary<string, long> Answered, long ViolationCount,
        IReadOnlyList<string> Violations, int DaemonPid, long RssBeforeKb, long RssAfterKb, bool AnsweringAfter, double Seconds);

    /// <summary>One line to send (without its newline, unless <see cref="Partial"/>), and what must come back.</summary>
    internal readonly record struct FuzzLine(byte[] Bytes, Expect Expect, long? Id, bool Partial = false);

    internal enum Expect { Nothing, Answer, TooLong }

    public static Result Run(Options o)
    {
        var clock = Stopwatch.StartNew();
        var violations = new ConcurrentQueue<string>();
        long violationCount = 0, lines = 0, expected = 0, answers = 0;
        var answered = new ConcurrentDictionary<string, long>();
        void Violation(string what)
        {
            if (Interlocked.Increment(ref violationCount) <= 20) violations.Enqueue(what);
        }

        int daemonPid = DaemonPid(o.SocketPath);
        long before = RssKb(daemonPid);
        Parallel.For(0, o.Connections, new ParallelOptions { MaxDegreeOfParallelism = o.Connections }, c =>
        {
            long perConnection = o.Lines / o.Connections + (c < o.Lines % o.Connections ? 1 : 0);
            var random = new Random(o.Seed * 1000 + c);
            long sent = 0;
            for (int session = 0; sent < perConnection; session++)
            {
                long n = Math.Min(perConnection - sent, random.Next(1, 5000));
                (long l, long e, long a) = Session(o.SocketPath, random, n, answered, what => Violation($"connection {c} session {session}: {what}"));
                sent += n;
                Interlocked.Add(ref lines, l);
                Interlocked.Add(ref expected, e);
                Interlocked.Add(ref answers, a);
            }
        });
        Thread.Sleep(1000); // the daemon returns a storm's memory once the last connection closes
        bool alive = Ping(o.SocketPath);
        if (!alive) Violation("the daemon did not answer a ping after the fuzzing");
        long after = RssKb(daemonPid);
        return new Result(lines, expected, answers, new SortedDictionary<string, long>(answered), violationCount, [.. violations],
            daemonPid, before, after, alive, clock.Elapsed.TotalSeconds);
    }

    /// <summary>One connection: n lines (the last maybe cut short), answers read as they come; (lines, answers expected, answers).</summary>
    private static (long, long, long) Session(string path, Random random, long n, ConcurrentDictionary<string, long> answered, Action<string> violation)
    {
        using Socket socket = UnixSocket.Connect(path);
        socket.ReceiveTimeout = 30_000;
        var pending = new BlockingCollection<FuzzLine>();
        long expected = 0, got = 0;
        int self = Environment.ProcessId, tid = StepLoop.GetTid();
        var reader = new Thread(() => got = ReadAnswers(socket, pending, answered, violation)) { Name = "fuzz reader" };
        reader.Start();
        try
        {
            var chunk = new MemoryStream();
            for (long i = 0; i < n; i++)
            {
                FuzzLine line = Generate(random, self, tid);
                bool last = i == n - 1;
                if (last && random.Next(4) == 0 && line.Expect != Expect.TooLong)
                {
                    // Cut short: no newline, no answer (an over-long line is answered before its newline).
                    line = line with { Partial = true, Expect = Expect.Nothing };
                }
                if (line.Expect != Expect.Nothing) expected++;
                pending.Add(line);
                chunk.Write(line.Bytes);
                if (!line.Partial) chunk.WriteByte((byte)'\n');
                if (chunk.Length > 16_384 || last)
                {
                    SendInPieces(socket, chunk.ToArray(), random);
                    chunk.SetLength(0);
                }
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException e)
        {
            violation($"the daemon stopped reading: {e.SocketErrorCode}");
        }
        finally
        {
            pending.CompleteAdding();
            reader.Join();
        }
        return (n, expected, got);
    }

    private static void SendInPieces(Socket socket, byte[] data, Random random)
    {
        int at = 0;
        while (at < data.Length)
        {
            // Pieces split at random bytes: lines, and UTF-8 sequences, straddle writes.
            int size = Math.Min(data.Length - at, random.Next(3) == 0 ? random.Next(1, 64) : random.Next(1, 8192));
            at += socket.Send(data, at, size, SocketFlags.None);
        }
    }

    private static long ReadAnswers(Socket socket, BlockingCollection<FuzzLine> pending, ConcurrentDictionary<string, long> answered, Action<string> violation)
    {
        long got = 0;
        var buffer = new byte[65536];
        var line = new MemoryStream();
        IEnumerator<FuzzLine> expecting = pending.GetConsumingEnumerable().Where(l => l.Expect != Expect.Nothing).GetEnumerator();
        while (true)
        {
            int read;
            try
            {
                read = socket.Receive(buffer);
            }
            catch (SocketException e)
            {
                violation($"reading answers: {e.SocketErrorCode} after {got}");
                break;
            }
            if (read == 0) break;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    line.WriteByte(buffer[i]);
                    continue;
                }
                got++;
                if (!expecting.MoveNext())
                {
                    violation($"an answer to no line: {Show(line.ToArray())}");
                }
                else
                {
                    Check(line.ToArray(), expecting.Current, answered, violation);
                }
                line.SetLength(0);
            }
        }
        if (line.Length > 0) violation($"an answer cut short: {Show(line.ToArray())}");
        long missing = 0;
        while (expecting.MoveNext()) missing++;
        if (missing > 0) violation($"{missing} lines got no answer");
        return got;
    }

    private static void Check(byte[] answer, FuzzLine sent, ConcurrentDictionary<string, long> answered, Action<string> violation)
    {
        string? problem = null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(answer);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) problem = "not a JSON object";
            else if (!root.TryGetProperty("v", out JsonElement v) || v.ValueKind != JsonValueKind.Number || v.GetRawText() != "1") problem = "no \"v\":1";
            else if (!root.TryGetProperty("ok", out JsonElement ok) || ok.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) problem = "no boolean ok";
            else
            {
                string code = "ok";
                if (ok.ValueKind == JsonValueKind.False)
                {
                    code = root.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.Object
                        && e.TryGetProperty("code", out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
                    if (!ErrorCode.All.Contains(code)) problem = $"undocumented error code '{code}'";
                    else if (!e.TryGetProperty("message", out JsonElement m) || m.ValueKind != JsonValueKind.String || m.GetString()!.Length == 0) problem = "an error without a message";
                }
                if (sent.Expect == Expect.TooLong && code != ErrorCode.LineTooLong) problem = $"a line over {ApiProtocol.MaxLineBytes} bytes answered {code}";
                if (problem is null && sent.Id is { } id && sent.Expect == Expect.Answer
                    && (!root.TryGetProperty("id", out JsonElement got) || got.ValueKind != JsonValueKind.Number || !got.TryGetInt64(out long back) || back != id))
                {
                    problem = $"id {id} not echoed";
                }
                answered.AddOrUpdate(code, 1, (_, k) => k + 1);
            }
        }
        catch (JsonException e)
        {
            problem = $"not valid JSON ({e.Message})";
        }
        if (problem is not null) violation($"{problem}: sent {Show(sent.Bytes)} answered {Show(answer)}");
    }

    private static string Show(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes.AsSpan(0, Math.Min(bytes.Length, 200)))
        {
            sb.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}");
        }
        return bytes.Length > 200 ? $"{sb}... ({bytes.Length} bytes)" : sb.ToString();
    }

    // --- Lines ---------------------------------------------------------------------------------

    internal static FuzzLine Generate(Random r, int self, int tid)
    {
        int kind = r.Next(100);
        FuzzLine line = kind switch
        {
            < 30 => Request(r, self, tid, wrongTypes: false),
            < 50 => Request(r, self, tid, wrongTypes: true),
            < 65 => Mutate(r, Request(r, self, tid, wrongTypes: false).Bytes),
            < 70 => Nested(r),
            < 80 => Strange(r),
            < 88 => Garbage(r),
            < 94 => Blank(r),
            < 99 => Misc(r, self),
            _ => r.Next(50) == 0 ? TooLong(r) : Request(r, self, tid, wrongTypes: false),
        };
        return NamesNoOtherTask(line.Bytes, self, tid) ? line : new FuzzLine("{\"v\":1,\"op\":\"ping\"}"u8.ToArray(), Expect.Answer, null);
    }

    /// <summary>False if the line is valid JSON whose top-level pid or tid is a whole number that
    /// could name a task other than this process and thread.</summary>
    private static bool NamesNoOtherTask(ReadOnlySpan<byte> line, int self, int tid)
    {
        bool safe = true;
        try
        {
            var reader = new Utf8JsonReader(line);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1
                    && (reader.ValueTextEquals("pid"u8) || reader.ValueTextEquals("tid"u8)) && reader.Read()
                    && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long id))
                {
                    safe &= id == self || id == tid || id <= 0 || id >= NoSuchPid;
                }
            }
            return safe;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return true; // not JSON (or a name escaping a lone surrogate): the daemon acts on none of it
        }
    }

    /// <summary>A request of a known op with its fields, valid or (wrongTypes) with some of them of any other type or out of range.</summary>
    private static FuzzLine Request(Random r, int self, int tid, bool wrongTypes)
    {
        string op = Ops[r.Next(Ops.Length)];
        var fields = new List<(string Name, string Value)> { ("v", "1"), ("op", Quote(op)) };
        long? id = null;
        if (r.Next(2) == 0)
        {
            // Never a possible pid either: a mutation can rename "id" to "tid".
            id = r.Next(3) == 0 ? -r.NextInt64(1L << 53) : NoSuchPid + r.NextInt64(1L << 52);
            fields.Add(("id", id.Value.ToString(CultureInfo.InvariantCulture)));
        }
        else if (r.Next(3) == 0)
        {
            fields.Add(("id", Quote(RandomString(r))));
        }
        string Pid() => SafePid(r, self);
        switch (op)
        {
            case "mark":
                fields.Add(("pid", Pid()));
                fields.Add(("class", Quote(new[] { "burst", "batch", "normal" }[r.Next(3)])));
                if (r.Next(2) == 0) fields.Add(("window_ms", r.Next(1, 200).ToString(CultureInfo.InvariantCulture)));
                if (r.Next(4) == 0) fields.Add(("home_cpu", r.Next(-1, 4).ToString(CultureInfo.InvariantCulture)));
                if (r.Next(4) == 0) fields.Add(("budget_us", r.Next(1, 100_000).ToString(CultureInfo.InvariantCulture)));
                break;
            case "unmark":
                fields.Add(("pid", Pid()));
                break;
            case "steps":
                fields.Add(("pid", Pid()));
                if (r.Next(3) == 0) fields.Add(("after_ns", r.NextInt64().ToString(CultureInfo.InvariantCulture)));
                break;
            case "step_begin" or "step_grant":
                if (r.Next(2) == 0) fields.Add(("window_ms", r.Next(1, 200).ToString(CultureInfo.InvariantCulture)));
                if (r.Next(3) == 0) fields.Add(("budget_us", r.Next(1, 100_000).ToString(CultureInfo.InvariantCulture)));
                if (r.Next(3) == 0) fields.Add(("tid", r.Next(2) == 0 ? tid.ToString(CultureInfo.InvariantCulture) : Pid()));
                break;
            case "step_end" or "step_revoke":
                if (r.Next(3) == 0) fields.Add(("tid", r.Next(2) == 0 ? tid.ToString(CultureInfo.InvariantCulture) : Pid()));
                break;
        }
        if (wrongTypes)
        {
            int changes = r.Next(1, 3);
            for (int k = 0; k < changes; k++)
            {
                int at = r.Next(fields.Count);
                if (fields[at].Name == "id") id = null;
                fields[at] = (fields[at].Name, AnyValue(r, 0));
            }
            if (r.Next(4) == 0) fields.Add((RandomString(r), AnyValue(r, 0))); // unknown fields are ignored
        }
        if (r.Next(10) == 0) fields.Add(fields[r.Next(fields.Count)]); // a duplicate key
        Shuffle(r, fields);
        string json = "{" + string.Join(",", fields.Select(f => $"{Quote(f.Name)}:{f.Value}")) + "}";
        if (r.Next(5) == 0) json = " " + json + "\t";
        if (r.Next(10) == 0) json += "\r";
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        // Some values of any type are no valid JSON ("\uzzzz", a lone surrogate): the daemon
        // cannot read the id of such a line, so its echo is checked only on well-formed ones.
        return new FuzzLine(bytes, Expect.Answer, id is not null && WellFormed(bytes) ? id : null);
    }

    /// <summary>The line is one JSON value whose strings all decode (no escaped lone surrogate).</summary>
    internal static bool WellFormed(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName) reader.GetString();
            }
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A pid or tid that is this process's, cannot exist, or is no positive integer.</summary>
    private static string SafePid(Random r, int self) => r.Next(6) switch
    {
        0 or 1 => self.ToString(CultureInfo.InvariantCulture),
        2 => (NoSuchPid + r.Next(1_000_000)).ToString(CultureInfo.InvariantCulture),
        3 => new[] { "0", "-1", "2147483648", "-2147483649", "9223372036854775807", "18446744073709551616", "1e400" }[r.Next(7)],
        4 => (self + 0.5).ToString(CultureInfo.InvariantCulture),
        _ => Quote(self.ToString(CultureInfo.InvariantCulture)),
    };

    /// <summary>Any JSON value but a small positive integer (which could name a real task).</summary>
    private static string AnyValue(Random r, int depth) => r.Next(depth > 2 ? 9 : 11) switch
    {
        0 => "null",
        1 => r.Next(2) == 0 ? "true" : "false",
        2 => new[] { "0", "-0", "-1", "-9223372036854775808", "9223372036854775808", "1e308", "1e400", "-1e400", "4.9e-324", "1.5", "2147483648", "9007199254740993", "0.0" }[r.Next(13)],
        3 => (NoSuchPid + r.NextInt64(1L << 40)).ToString(CultureInfo.InvariantCulture),
        4 => new string('9', r.Next(20, 400)),
        5 or 6 => Quote(RandomString(r)),
        7 => Quote(new[] { "burst", "BURST", "batch ", "", "normal\u0000", "\u00e9", "\ud83d\ude00" }[r.Next(7)]),
        8 => "\"" + new[] { "\\ud800", "\\udc00x", "\\u0000", "\\uzzzz", "\\", "\\x41" }[r.Next(6)] + "\"",
        9 => "[" + string.Join(",", Enumerable.Range(0, r.Next(4)).Select(_ => AnyValue(r, depth + 1))) + "]",
        _ => "{" + string.Join(",", Enumerable.Range(0, r.Next(3)).Select(_ => $"{Quote(RandomString(r))}:{AnyValue(r, depth + 1)}")) + "}",
    };

    private static string RandomString(Random r)
    {
        var sb = new StringBuilder();
        int n = r.Next(0, 24);
        for (int i = 0; i < n; i++)
        {
            sb.Append(r.Next(6) switch
            {
                0 => (char)r.Next(0x20, 0x7f),
                1 => (char)r.Next(0xa0, 0x2000),
                2 => (char)r.Next(0, 0x20),
                _ => (char)r.Next('a', 'z' + 1),
            });
        }
        return sb.ToString();
    }

    private static string Quote(string s) => JsonSerializer.Serialize(s, ProtocolFuzzerJson.Default.String);

    /// <summary>A valid request with bytes inserted or replaced: invalid UTF-8, NUL, control bytes, JSON punctuation; never digits.</summary>
    private static FuzzLine Mutate(Random r, byte[] valid)
    {
        var bytes = new List<byte>(valid);
        int n = r.Next(1, 4);
        for (int k = 0; k < n; k++)
        {
            byte b = r.Next(5) switch
            {
                0 => (byte)r.Next(0x80, 0x100),       // a lone continuation or lead byte
                1 => 0,                              // NUL
                2 => (byte)r.Next(1, 0x20),          // a control byte
                3 => (byte)Punctuation[r.Next(Punctuation.Length)],
                _ => (byte)r.Next(0xc0, 0x100),
            };
            if (b == (byte)'\n' || b is >= (byte)'0' and <= (byte)'9') b = 0xff;
            int at = r.Next(bytes.Count + 1);
            // Digits and minus signs stay: replacing the sign of "-1" with a space would make pid 1.
            if (r.Next(2) == 0 && at < bytes.Count && bytes[at] is not ((>= (byte)'0' and <= (byte)'9') or (byte)'-')) bytes[at] = b;
            else bytes.Insert(at, b);
        }
        return new FuzzLine([.. bytes], WillBeBlank(bytes) ? Expect.Nothing : Expect.Answer, null);
    }

    private static FuzzLine Nested(Random r)
    {
        int depth = r.Next(1, 3000);
        bool array = r.Next(2) == 0;
        string open = array ? "[" : "{\"a\":", close = array ? "]" : "}";
        var sb = new StringBuilder("{\"v\":1,\"op\":\"ping\",\"x\":");
        for (int i = 0; i < depth; i++) sb.Append(open);
        sb.Append('1');
        int closing = r.Next(4) == 0 ? r.Next(depth) : depth; // sometimes unbalanced
        for (int i = 0; i < closing; i++) sb.Append(close);
        sb.Append('}');
        return new FuzzLine(Encoding.UTF8.GetBytes(sb.ToString()), Expect.Answer, null);
    }

    /// <summary>Invalid UTF-8, overlong encodings, surrogates and NUL in the places the daemon reads: op, class, a property name, the id.</summary>
    private static FuzzLine Strange(Random r)
    {
        byte[][] bad = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x00], [0x80], [0xfe, 0xfe]];
        byte[] b = bad[r.Next(bad.Length)];
        string x = Encoding.Latin1.GetString(b);
        string[] shapes =
        [
            "{\"v\":1,\"op\":\"pi" + x + "ng\"}",
            "{\"v\":1,\"op\":\"mark\",\"pid\":0,\"class\":\"bur" + x + "st\"}",
            "{\"v\":1,\"op\":\"ping\",\"" + x + "\":1}",
            "{\"v\":1,\"op\":\"ping\",\"id\":\"" + x + "\"}",
            "{\"v\":1,\"op\":\"ping\",\"id\":\"\\ud800\"}",
            "{\"v\":1,\"op\":\"\\udfff\"}",
            "{\"v\":1,\"\\ud800op\":\"ping\"}",
            x + "{\"v\":1,\"op\":\"ping\"}",
            "{\"v\":1,\"op\":\"ping\"}" + x,
        ];
        byte[] line = Encoding.Latin1.GetBytes(shapes[r.Next(shapes.Length)]);
        return new FuzzLine(line, Expect.Answer, null);
    }

    private static FuzzLine Garbage(Random r)
    {
        var bytes = new byte[r.Next(1, 300)];
        r.NextBytes(bytes);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n' || bytes[i] is >= (byte)'0' and <= (byte)'9') bytes[i] = (byte)'x';
        }
        return new FuzzLine(bytes, WillBeBlank(bytes) ? Expect.Nothing : Expect.Answer, null);
    }

    private static FuzzLine Blank(Random r) => r.Next(3) switch
    {
        0 => new FuzzLine([], Expect.Nothing, null),
        1 => new FuzzLine("\r"u8.ToArray(), Expect.Nothing, null),
        _ => new FuzzLine(" \t"u8.ToArray(), Expect.Answer, null), // whitespace is not blank: bad_json
    };

    private static FuzzLine Misc(Random r, int self)
    {
        string[] lines =
        [
            "{\"v\":2,\"op\":\"ping\"}",
            "{\"op\":\"ping\"}",
            "{\"v\":\"1\",\"op\":\"ping\"}",
            "{\"v\":1.0,\"op\":\"ping\"}",
            "{\"v\":1,\"op\":\"shutdown\"}",
            "{\"v\":1,\"op\":\"PING\"}",
            "{\"v\":1,\"op\":null}",
            "{\"v\":1}",
            "{}",
            "[]",
            "null",
            "\"ping\"",
            "{\"v\":1,\"op\":\"ping\"}{\"v\":1,\"op\":\"ping\"}",
            "{\"v\":1,\"op\":\"ping\",}",
            "{\"v\":1,\"op\":\"ping\"",
            "{\"v\":1,'op':'ping'}",
            "{\"v\":1,\"op\":\"mark\",\"pid\":" + self.ToString(CultureInfo.InvariantCulture) + "}",
            "{\"v\":1,\"op\":\"mark\",\"class\":\"burst\"}",
            "\ufeff{\"v\":1,\"op\":\"ping\"}",
        ];
        return new FuzzLine(Encoding.UTF8.GetBytes(lines[r.Next(lines.Length)]), Expect.Answer, null);
    }

    private static FuzzLine TooLong(Random r)
    {
        var bytes = new byte[ApiProtocol.MaxLineBytes + 1 + r.Next(70_000)];
        Array.Fill(bytes, (byte)'a');
        return new FuzzLine(bytes, Expect.TooLong, null);
    }

    /// <summary>What the daemon takes for a blank line (a keep-alive, not answered): nothing, or a lone CR.</summary>
    private static bool WillBeBlank(IReadOnlyList<byte> line) => line.Count == 0 || (line.Count == 1 && line[0] == (byte)'\r');

    private static void Shuffle<T>(Random r, List<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = r.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    // --- The daemon ----------------------------------------------------------------------------

    private static int DaemonPid(string path)
    {
        using Socket socket = UnixSocket.Connect(path);
        return PeerCredentials.Of(socket).Pid;
    }

    private static long RssKb(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS");
    }

    private static bool Ping(string path)
    {
        try
        {
            using Socket socket = UnixSocket.Connect(path);
            socket.ReceiveTimeout = 10_000;
            socket.Send("{\"v\":1,\"op\":\"ping\",\"id\":1}\n"u8);
            var buffer = new byte[4096];
            int n = socket.Receive(buffer);
            return n > 0 && Encoding.UTF8.GetString(buffer, 0, n).Contains("\"ok\":true", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The result as one JSON line.</summary>
    public static string Json(Result r, Options o)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("seed", o.Seed);
            w.WriteNumber("connections", o.Connections);
            w.WriteNumber("lines", r.Lines);
            w.WriteNumber("expected_answers", r.ExpectedAnswers);
            w.WriteNumber("answers", r.Answers);
            w.WriteStartObject("answered");
            foreach ((string code, long n) in r.Answered) w.WriteNumber(code, n);
            w.WriteEndObject();
            w.WriteNumber("violations", r.ViolationCount);
            w.WriteNumber("daemon_pid", r.DaemonPid);
            w.WriteNumber("rss_before_kb", r.RssBeforeKb);
            w.WriteNumber("rss_after_kb", r.RssAfterKb);
            w.WriteBoolean("answering_after", r.AnsweringAfter);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 1));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ProtocolFuzzerJson : System.Text.Json.Serialization.JsonSerializerContext;
