using System.Text.Json;
using AgentSched.Cli.Commands;
using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

public sealed class TopCommandTests
{
    [Fact]
    public void PercentilesComeFromTheIntervalsBucketsNotTheTotals()
    {
        // Before: 100 waits in bucket 20 (~1 ms). During the interval: 9 more there and 91 in bucket 10 (~1 us).
        var before = new ulong[32];
        before[20] = 100;
        var after = (ulong[])before.Clone();
        after[10] = 91;
        after[20] = 109;

        Assert.Equal(2048 / 1000.0, TopCommand.TopView.Percentile(before, after, 0.50)); // bucket 10's upper bound, 2^11 ns
        Assert.Equal(2097152 / 1000.0, TopCommand.TopView.Percentile(before, after, 0.99)); // bucket 20's, 2^21 ns
        Assert.Null(TopCommand.TopView.Percentile(after, after, 0.5)); // no waits in the interval
        Assert.Null(TopCommand.TopView.Percentile(null, after, 0.5));
        // After a re-attach the counters started over: the second sample is the interval.
        Assert.Equal(2097152 / 1000.0, TopCommand.TopView.Percentile(after, after, 0.99, reattached: true));
        // The last bucket is open-ended: the longest wait seen bounds it.
        var longWaits = new ulong[32];
        longWaits[31] = 5;
        Assert.Equal(9_000_000.0, TopCommand.TopView.Percentile(new ulong[32], longWaits, 0.5, maxUs: 9_000_000));
    }

    [Fact]
    public void JsonNeedsOnce()
    {
        CliResult r = CliHarness.Run("top", "--json");

        Assert.Equal((int)ReturnCode.UsageError, r.Code);
        Assert.StartsWith("agentsched: --json needs --once", r.Err);
    }

    [Fact]
    public async Task InFallbackModeTopSaysThereAreNoSchedulerCounters()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using var child = System.Diagnostics.Process.Start("sleep", "30");
        CliHarness.Run("mark", child.Id.ToString(), "--socket", daemon.SocketPath);

        CliResult text = CliHarness.Run("top", "--once", "--interval", "200ms", "--socket", daemon.SocketPath);
        CliResult json = CliHarness.Run("top", "--once", "--json", "--interval", "200ms", "--socket", daemon.SocketPath);

        Assert.Equal(0, text.Code);
        Assert.Matches(@"burst\s+1\s+-\s+-\s+-\s+-\n", text.Out);
        Assert.Contains("no scheduler counters: agent_class is not attached (fallback mode)", text.Out);
        Assert.Equal(0, json.Code);
        using JsonDocument doc = JsonDocument.Parse(json.Out);
        Assert.Equal("fallback", doc.RootElement.GetProperty("mode").GetString());
        JsonElement burst = doc.RootElement.GetProperty("classes").GetProperty("burst");
        Assert.Equal(1, burst.GetProperty("marked").GetInt32());
        Assert.Equal(JsonValueKind.Null, burst.GetProperty("dispatches").ValueKind);
        Assert.Equal(JsonValueKind.Null, burst.GetProperty("runnable").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("counters").GetProperty("demote_step").ValueKind);
        child.Kill();
    }

    [Fact]
    public void AnAbsentDaemonExits3()
    {
        CliResult r = CliHarness.Run("top", "--once", "--socket", "/nonexistent/s.sock");

        Assert.Equal((int)ReturnCode.DaemonUnavailable, r.Code);
        Assert.StartsWith("agentsched: agentschedd is not reachable at /nonexistent/s.sock", r.Err);
    }
}
