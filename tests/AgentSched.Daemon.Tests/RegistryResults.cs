using System.Buffers;
using System.Text.Json;
using AgentSched.Daemon.Marks;

namespace AgentSched.Daemon.Tests;

internal static class RegistryResults
{
    /// <summary>A successful result's response fields, as the JSON object the daemon would send.</summary>
    public static JsonElement BodyJson(this RegistryResult r)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            r.Body!(w);
            w.WriteEndObject();
        }
        return JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone();
    }
}
