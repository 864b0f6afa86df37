using System.Text;
using System.Text.Json;
using AgentSched.Tests;

namespace AgentSched.Workload.Tests;

public sealed class ProtocolFuzzerTests
{
    [Fact]
    public async Task EveryFuzzedLineGetsOneDocumentedAnswerAndTheDaemonKeepsServing()
    {
        // The per-connection rate limit out of the way, so requests are handled, not only parsed.
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback", "--Api:MaxRequestsPerSecond=10000000");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(60));

        ProtocolFuzzer.Result r = ProtocolFuzzer.Run(new ProtocolFuzzer.Options(daemon.SocketPath, Seed: 7, Lines: 20_000, Connections: 4));

        Assert.True(r.ViolationCount == 0, string.Join("\n", r.Violations));
        Assert.Equal(r.ExpectedAnswers, r.Answers);
        Assert.InRange(r.Answers, r.Lines / 2, r.Lines);
        Assert.True(r.AnsweringAfter);
        Assert.False(daemon.HasExited, daemon.Output);
        Assert.Equal(daemon.Pid, r.DaemonPid);
        // Every kind of answer the lines are built to draw came back.
        Assert.All(new[] { "ok", "bad_json", "bad_request", "unknown_op", "unsupported_version" },
            code => Assert.True(r.Answered.GetValueOrDefault(code) > 0, $"no {code} among {string.Join(", ", r.Answered)}"));
        Assert.True(r.RssAfterKb < r.RssBeforeKb + 100_000, $"RSS {r.RssBeforeKb} kB -> {r.RssAfterKb} kB");
    }

    [Fact]
    public void NoFuzzedLineNamesATaskButTheFuzzersOwn()
    {
        // The fuzzer runs as root in CI: a mark of pid 1 would change the machine's scheduling.
        const int self = 4242, tid = 4243;
        var random = new Random(3);
        int checkedIds = 0;
        for (int i = 0; i < 200_000; i++)
        {
            ProtocolFuzzer.FuzzLine line = ProtocolFuzzer.Generate(random, self, tid);
            foreach ((string name, long id) in TopLevelIds(line.Bytes))
            {
                checkedIds++;
                Assert.True(id is self or tid || id <= 0 || id >= ProtocolFuzzer.NoSuchPid, $"{name} {id} in {Encoding.Latin1.GetString(line.Bytes)}");
            }
        }
        Assert.True(checkedIds > 10_000, $"{checkedIds} ids checked");
    }

    /// <summary>The whole-number pid and tid fields of a line's top-level object; none if the line
    /// is not one well-formed JSON value (the daemon rejects it whole).</summary>
    private static List<(string, long)> TopLevelIds(byte[] line)
    {
        var ids = new List<(string, long)>();
        try
        {
            var reader = new Utf8JsonReader(line);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1
                    && (reader.ValueTextEquals("pid"u8) || reader.ValueTextEquals("tid"u8)))
                {
                    string name = reader.ValueTextEquals("pid"u8) ? "pid" : "tid";
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long id)) ids.Add((name, id));
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON, or a name escaping a lone surrogate: the daemon answers bad_json and acts
            // on nothing (a mutation that splits "4242" into "424]2" reads as pid 424 up to there).
            ids.Clear();
        }
        return ids;
    }
}
