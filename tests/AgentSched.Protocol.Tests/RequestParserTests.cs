using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentSched.Protocol.Tests;

public sealed class RequestParserTests
{
    private static (ApiRequest? Request, ProtocolError? Error, string? Id) Parse(string line)
    {
        RequestParser.TryParse(Encoding.UTF8.GetBytes(line), out ApiRequest? r, out ProtocolError? e, out byte[]? id);
        return (r, e, id is null ? null : Encoding.UTF8.GetString(id));
    }

    [Fact]
    public void AFullMarkParses()
    {
        (ApiRequest? r, ProtocolError? e, string? id) =
            Parse("""{"v":1,"id":"a\"b","op":"mark","pid":42,"class":"burst","window_ms":50,"home_cpu":3,"budget_us":4000,"future":{"x":[1]}}""");

        Assert.Null(e);
        Assert.Equal(new ApiRequest(ApiOp.Mark) { IdJson = r!.IdJson, Pid = 42, Class = TaskClass.Burst, WindowMs = 50, HomeCpu = 3, BudgetUs = 4000 }, r);
        Assert.Equal("\"a\\\"b\"", id);
    }

    [Theory]
    [InlineData("not json", "bad_json")]
    [InlineData("[1,2]", "bad_json")]
    [InlineData("{\"v\":1,\"op\":\"ping\"", "bad_json")]
    [InlineData("{\"v\":1,\"op\":\"ping\"} {}", "bad_json")]
    [InlineData("{\"op\":\"ping\"}", "bad_request")]
    [InlineData("{\"v\":2,\"op\":\"ping\"}", "unsupported_version")]
    [InlineData("{\"v\":1}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"reboot\"}", "unknown_op")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"class\":\"burst\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":\"12\",\"class\":\"burst\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":1.5,\"class\":\"burst\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":0,\"class\":\"burst\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":5}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":5,\"class\":\"urgent\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":5,\"class\":\"burst\",\"window_ms\":-1}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":5,\"class\":\"burst\",\"budget_us\":10}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"unmark\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"step_begin\",\"tid\":-4}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"steps\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"steps\",\"pid\":5,\"after_ns\":-1}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"steps\",\"pid\":5,\"after_ns\":\"soon\"}", "bad_request")]
    [InlineData("{\"v\":1,\"op\":\"steps\",\"pid\":5,\"after_ns\":1.5}", "bad_request")]
    public void BadRequestsGetTheirCode(string line, string code)
    {
        (ApiRequest? r, ProtocolError? e, _) = Parse(line);

        Assert.Null(r);
        Assert.Equal(code, e!.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void TheMessageNamesTheField()
    {
        Assert.Equal("pid must be an integer (got a string)", Parse("""{"v":1,"op":"unmark","pid":"7"}""").Error!.Message);
        Assert.Equal("window_ms must be between 1 and 3600000 (got 0)", Parse("""{"v":1,"op":"step_begin","window_ms":0}""").Error!.Message);
    }

    [Fact]
    public void TheIdIsKeptEvenWhenTheRequestIsBad()
    {
        Assert.Equal("17", Parse("""{"v":1,"id":17,"op":"nope"}""").Id);
    }

    [Fact]
    public void RequestsWrittenByClientsParseBackUnchanged()
    {
        var request = new ApiRequest(ApiOp.StepBegin) { IdJson = "9"u8.ToArray(), Tid = 77, WindowMs = 250, BudgetUs = 2000 };
        var buffer = new ArrayBufferWriter<byte>();

        RequestWriter.Write(buffer, request);

        Assert.Equal((byte)'\n', buffer.WrittenSpan[^1]);
        Assert.True(RequestParser.TryParse(buffer.WrittenSpan[..^1], out ApiRequest? back, out _, out _));
        Assert.Equal(request with { IdJson = back!.IdJson }, back);
        Assert.Equal("9", Encoding.UTF8.GetString(back.IdJson!));
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0L)]
    [InlineData(90_412_345_678L)]
    public void AStepsRequestWrittenByAClientParsesBackUnchanged(long? afterNs)
    {
        var request = new ApiRequest(ApiOp.Steps) { Pid = 4242, AfterNs = afterNs };
        var buffer = new ArrayBufferWriter<byte>();

        RequestWriter.Write(buffer, request);

        Assert.True(RequestParser.TryParse(buffer.WrittenSpan[..^1], out ApiRequest? back, out _, out _));
        Assert.Equal(request, back);
    }

    [Fact]
    public void ResponsesAreOneLineOfJsonWithTheId()
    {
        var buffer = new ArrayBufferWriter<byte>();
        ResponseWriter.WriteError(buffer, "\"x\""u8.ToArray(), new ProtocolError(ErrorCode.NoSuchProcess, "no process with pid 9"));
        ResponseWriter.WriteOk(buffer, null, w => w.WriteNumber("pid", 9));

        string[] lines = Encoding.UTF8.GetString(buffer.WrittenSpan).Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("", lines[2]);
        Assert.Equal("""{"v":1,"id":"x","ok":false,"error":{"code":"no_such_process","message":"no process with pid 9"}}""", lines[0]);
        Assert.Equal("""{"v":1,"ok":true,"pid":9}""", lines[1]);
        using JsonDocument doc = JsonDocument.Parse(lines[0]);
    }
    /// <summary>Trust finding 3: bytes that are not UTF-8, anywhere in the line, and escapes of lone surrogates, are bad_json, answered like any other bad line, and an id is never echoed from such a line.</summary>
    [Theory]
    [InlineData(new byte[] { 0xff }, "op")]
    [InlineData(new byte[] { 0xc3 }, "class")]
    [InlineData(new byte[] { 0xed, 0xa0, 0x80 }, "name")] // a surrogate encoded in UTF-8 (CESU): not UTF-8
    [InlineData(new byte[] { 0xff }, "id")]
    public void InvalidUtf8IsBadJson(byte[] bad, string where)
    {
        byte[] line = where switch
        {
            "op" => [.. "{\"v\":1,\"op\":\"pi"u8, .. bad, .. "ng\"}"u8],
            "class" => [.. "{\"v\":1,\"op\":\"mark\",\"pid\":5,\"class\":\""u8, .. bad, .. "\"}"u8],
            "name" => [.. "{\"v\":1,\""u8, .. bad, .. "\":1,\"op\":\"ping\"}"u8],
            _ => [.. "{\"v\":1,\"id\":\""u8, .. bad, .. "\",\"op\":\"ping\"}"u8],
        };

        Assert.False(RequestParser.TryParse(line, out _, out ProtocolError? e, out byte[]? id));
        Assert.Equal(("bad_json", "the line is not valid UTF-8"), (e!.Code, e.Message));
        Assert.Null(id);
    }

    [Theory]
    [InlineData("{\"v\":1,\"op\":\"\\ud800\"}")]
    [InlineData("{\"v\":1,\"op\":\"mark\",\"pid\":5,\"class\":\"\\udc00x\"}")]
    [InlineData("{\"v\":1,\"\\ud800\":1,\"op\":\"ping\"}")]
    public void AnEscapedLoneSurrogateIsBadJson(string line)
    {
        (_, ProtocolError? e, _) = Parse(line);

        Assert.Equal("bad_json", e!.Code);
        Assert.Contains("lone UTF-16 surrogate", e.Message);
    }

    [Fact]
    public void AnUnknownOpMessageNeverSplitsASurrogatePair()
    {
        string op = new string('a', 39) + "\U0001F600tail"; // the emoji's pair is characters 40 and 41
        (_, ProtocolError? e, _) = Parse($"{{\"v\":1,\"op\":\"{op}\"}}");

        Assert.Equal("unknown_op", e!.Code);
        Assert.Contains("'" + new string('a', 39) + "...'", e.Message);
    }
}
