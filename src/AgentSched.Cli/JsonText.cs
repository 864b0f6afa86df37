using System.Text;
using System.Text.Json;

namespace AgentSched.Cli;

/// <summary>One JSON object, written with Utf8JsonWriter (no reflection: the CLI is NativeAOT).</summary>
internal static class JsonText
{
    public static string Write(Action<Utf8JsonWriter> body, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
