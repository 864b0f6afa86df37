using System.Buffers;
using System.Text.Json;

namespace AgentSched.Protocol;

/// <summary>Writes request lines for clients (the CLI and AgentSched.Client).</summary>
public static class RequestWriter
{
    /// <summary>Writes <paramref name="request"/> as one line, newline included.</summary>
    public static void Write(IBufferWriter<byte> output, ApiRequest request)
    {
        using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            w.WriteNumber("v", ApiProtocol.Version);
            if (request.IdJson is { } id)
            {
                w.WritePropertyName("id");
                w.WriteRawValue(id);
            }
            w.WriteString("op", ApiOpNames.Name(request.Op));
            if (request.Pid is { } pid) w.WriteNumber("pid", pid);
            if (request.Tid is { } tid) w.WriteNumber("tid", tid);
            if (request.Class is { } c) w.WriteString("class", TaskClassNames.Name(c));
            if (request.WindowMs is { } window) w.WriteNumber("window_ms", window);
            if (request.HomeCpu is { } home) w.WriteNumber("home_cpu", home);
            if (request.BudgetUs is { } budget) w.WriteNumber("budget_us", budget);
            if (request.AfterNs is { } after) w.WriteNumber("after_ns", after);
            w.WriteEndObject();
        }
        output.GetSpan(1)[0] = (byte)'\n';
        output.Advance(1);
    }
}
