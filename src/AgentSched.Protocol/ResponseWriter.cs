using System.Buffers;
using System.Text.Json;

namespace AgentSched.Protocol;

/// <summary>
/// Writes response lines: <c>{"v":1,"id":...,"ok":true,...}</c> or
/// <c>{"v":1,"id":...,"ok":false,"error":{"code":...,"message":...}}</c>, each ending in a newline.
/// </summary>
public static class ResponseWriter
{
    private static readonly JsonWriterOptions s_options = new() { Indented = false, SkipValidation = false };

    /// <summary>Writes a success response; <paramref name="body"/> adds the operation's fields to the open object.</summary>
    public static void WriteOk(IBufferWriter<byte> output, byte[]? idJson, Action<Utf8JsonWriter>? body)
    {
        using (var w = new Utf8JsonWriter(output, s_options))
        {
            Begin(w, idJson, ok: true);
            body?.Invoke(w);
            w.WriteEndObject();
        }
        NewLine(output);
    }

    /// <summary>Writes an error response.</summary>
    public static void WriteError(IBufferWriter<byte> output, byte[]? idJson, ProtocolError error)
    {
        using (var w = new Utf8JsonWriter(output, s_options))
        {
            Begin(w, idJson, ok: false);
            w.WriteStartObject("error");
            w.WriteString("code", error.Code);
            w.WriteString("message", error.Message);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        NewLine(output);
    }

    private static void Begin(Utf8JsonWriter w, byte[]? idJson, bool ok)
    {
        w.WriteStartObject();
        w.WriteNumber("v", ApiProtocol.Version);
        if (idJson is not null)
        {
            w.WritePropertyName("id");
            w.WriteRawValue(idJson, skipInputValidation: false);
        }
        w.WriteBoolean("ok", ok);
    }

    private static void NewLine(IBufferWriter<byte> output)
    {
        output.GetSpan(1)[0] = (byte)'\n';
        output.Advance(1);
    }
}
