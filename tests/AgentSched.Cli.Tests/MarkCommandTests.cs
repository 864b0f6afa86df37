using System.Diagnostics;
using System.Text.Json;
using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

/// <summary>mark and unmark against a real agentschedd in fallback mode: the effect is read from /proc.</summary>
public sealed class MarkCommandTests : IAsyncLifetime
{
    private readonly DaemonProcess _daemon = DaemonProcess.Start();
    private readonly ChildProcesses _children = new();

    public async ValueTask InitializeAsync() => await _daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

    public ValueTask DisposeAsync()
    {
        _children.Dispose();
        _daemon.Dispose();
        return ValueTask.CompletedTask;
    }

    private int Sleeper() => _children.Sleeper();

    private CliResult Cli(params string[] args) => CliHarness.Run(["--socket", _daemon.SocketPath, .. args]);

    [Fact]
    public void MarkChangesTheProcessesAndUnmarkRestoresThem()
    {
        int a = Sleeper(), b = Sleeper();

        CliResult marked = Cli("mark", a.ToString(), b.ToString(), "--class", "batch");
        CliResult burst = Cli("mark", "--window", "30s", a.ToString());

        Assert.Equal((0, $"marked {a} batch until unmarked\nmarked {b} batch until unmarked\n", ""), (marked.Code, marked.Out, marked.Err));
        Assert.Equal(0, burst.Code);
        Assert.Matches($@"^marked {a} burst for (29\.\d+|30) s\n$", burst.Out);
        Assert.Equal((-10, 0), ProcStat.Sched(a)); // BURST in fallback: nice -10, SCHED_OTHER
        Assert.Equal((10, 3), ProcStat.Sched(b));  // BATCH: SCHED_BATCH, nice 10

        CliResult unmarked = Cli("unmark", a.ToString(), b.ToString());

        Assert.Equal((0, $"unmarked {a} (was burst)\nunmarked {b} (was batch)\n"), (unmarked.Code, unmarked.Out));
        Assert.Equal((0, 0), ProcStat.Sched(a));
        Assert.Equal((0, 0), ProcStat.Sched(b));
    }

    [Fact]
    public void ARefusedPidIsReportedAndTheOthersAreStillMarked()
    {
        int a = Sleeper();

        CliResult r = Cli("mark", "999999999", a.ToString());

        Assert.Equal((int)ReturnCode.Error, r.Code);
        Assert.Equal("agentsched: mark 999999999: no_such_process: no process with pid 999999999\n", r.Err);
        Assert.Equal($"marked {a} burst until unmarked\n", r.Out);
        Assert.Equal(-10, ProcStat.Sched(a).Nice);
    }

    [Fact]
    public void JsonListsEveryPidsOutcome()
    {
        int a = Sleeper();

        CliResult r = Cli("mark", "--json", "--class", "batch", "--window", "2s", a.ToString(), "999999999");

        Assert.Equal((int)ReturnCode.Error, r.Code);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        JsonElement[] results = [.. doc.RootElement.GetProperty("results").EnumerateArray()];
        Assert.Equal(2, results.Length);
        Assert.Equal(a, results[0].GetProperty("pid").GetInt32());
        Assert.True(results[0].GetProperty("ok").GetBoolean());
        Assert.Equal("batch", results[0].GetProperty("class").GetString());
        Assert.InRange(results[0].GetProperty("window_ms").GetDouble(), 1000, 2000);
        Assert.False(results[1].GetProperty("ok").GetBoolean());
        Assert.Equal("no_such_process", results[1].GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("agentsched: 'abc' is not a process id (a positive integer)", "mark", "abc")]
    [InlineData("agentsched: '-3' is not a process id (a positive integer)", "unmark", "--", "-3")]
    [InlineData("agentsched: --class: unknown class 'urgent' (use burst, batch or normal)", "mark", "--class", "urgent", "1")]
    [InlineData("agentsched: --window: '-5ms' must be positive", "mark", "--window", "-5ms", "1")]
    [InlineData("agentsched: --window: '50' has no unit (write 50ms, 50s or 50us)", "mark", "--window", "50", "1")]
    [InlineData("agentsched: --window: 2h is out of range (1ms to 1h)", "mark", "--window", "2h", "1")]
    [InlineData("agentsched: --window: '999999999999h' is longer than a year", "mark", "--window", "999999999999h", "1")]
    [InlineData("agentsched: --budget: 10us is out of range (100us to 1s)", "mark", "--budget", "10us", "1")]
    [InlineData("agentsched: --home-cpu: 'x' is not a CPU number (0 or more)", "mark", "--home-cpu", "x", "1")]
    [InlineData("agentsched: Required argument missing for command: 'mark'.", "mark")]
    public void BadInputIsOneLineAndExit2(string expected, params string[] args)
    {
        CliResult r = Cli(args);

        Assert.Equal((int)ReturnCode.UsageError, r.Code);
        string[] lines = r.Err.TrimEnd('\n').Split('\n');
        Assert.Equal(expected, lines[0]);
        Assert.StartsWith("agentsched: see 'agentsched ", lines[^1]);
        Assert.Equal(2, lines.Length);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void AnAbsentDaemonIsOneLineAndExit3()
    {
        CliResult r = CliHarness.Run("mark", "1", "--socket", Path.Combine(_daemon.Directory, "nothing.sock"));

        Assert.Equal((int)ReturnCode.DaemonUnavailable, r.Code);
        Assert.Equal($"agentsched: agentschedd is not reachable at {Path.Combine(_daemon.Directory, "nothing.sock")}: no such socket (agentschedd is not running; start it with: systemctl start agentsched)\n", r.Err);
    }
}
