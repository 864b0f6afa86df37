using System.Text.Json;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

public sealed class StatusCommandTests
{
    [Fact]
    public void WithoutADaemonItShowsTheKernelAndExits3()
    {
        var kernel = new SchedExtStatus(true, "enabled", "scx_other", 3, true, "7.3.4+deb13-cloud-amd64");
        string socket = Path.Combine(Path.GetTempPath(), $"absent-{Guid.NewGuid():N}.sock");

        CliResult r = CliHarness.Run(CliHarness.Environment(kernel), "status", "--socket", socket);

        Assert.Equal((int)ReturnCode.DaemonUnavailable, r.Code);
        Assert.Equal(
            $"""
            daemon      not reachable: agentschedd is not reachable at {socket}: no such socket (agentschedd is not running; start it with: systemctl start agentsched)
            kernel      7.3.4+deb13-cloud-amd64
            sched_ext   enabled, scx_other (full: every task), enable_seq 3

            """, r.Out);
    }

    [Fact]
    public void SaysWhySchedExtIsMissing()
    {
        CliResult r = CliHarness.Run("status", "--socket", "/nonexistent/agentsched.sock");

        Assert.Contains("sched_ext   unsupported (this kernel lacks CONFIG_SCHED_CLASS_EXT; see agentsched doctor)", r.Out);
        Assert.Contains("nor its directory", r.Out);
    }

    [Fact]
    public async Task ShowsTheDaemonsModeHealthAndMarks()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using var child = System.Diagnostics.Process.Start("sleep", "30");
        Assert.Equal(0, CliHarness.Run("mark", "--socket", daemon.SocketPath, "--class", "batch", child.Id.ToString()).Code);

        CliResult r = CliHarness.Run("status", "--socket", daemon.SocketPath);

        Assert.Equal(0, r.Code);
        Assert.Matches($@"^daemon      running \(pid {daemon.Pid}, up \d+s, version \S+\)\n", r.Out);
        Assert.Contains("mode        fallback (this kernel", r.Out);
        Assert.Contains("health      ok\n", r.Out);
        Assert.Contains("scheduler   attached 0 times, ejected 0 times\n", r.Out);
        Assert.Contains("marks       burst 0, batch 1, normal 0\n", r.Out);
        child.Kill();
    }

    [Fact]
    public async Task JsonHasTheDaemonsStatusAndTheKernelsView()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        var kernel = new SchedExtStatus(true, "disabled", null, 2, false, "6.19.14");

        CliResult r = CliHarness.Run(CliHarness.Environment(kernel), "status", "--json", "--socket", daemon.SocketPath);

        Assert.Equal(0, r.Code);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        JsonElement root = doc.RootElement;
        Assert.Equal(daemon.SocketPath, root.GetProperty("socket").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
        JsonElement d = root.GetProperty("daemon");
        Assert.Equal("fallback", d.GetProperty("mode").GetString());
        Assert.Equal(daemon.Pid, d.GetProperty("daemon_pid").GetInt32());
        Assert.True(d.GetProperty("healthy").GetBoolean());
        Assert.False(d.TryGetProperty("ok", out _));
        Assert.Equal("6.19.14", root.GetProperty("kernel").GetString());
        JsonElement s = root.GetProperty("sched_ext");
        Assert.Equal("disabled", s.GetProperty("state").GetString());
        Assert.Equal(2, s.GetProperty("enable_seq").GetInt64());
        Assert.False(s.GetProperty("switch_all").GetBoolean());
    }

    [Fact]
    public void JsonWithoutADaemonSaysWhy()
    {
        CliResult r = CliHarness.Run("status", "--json", "--socket", "/nonexistent/x.sock");

        Assert.Equal((int)ReturnCode.DaemonUnavailable, r.Code);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("daemon").ValueKind);
        Assert.StartsWith("agentschedd is not reachable at /nonexistent/x.sock", doc.RootElement.GetProperty("error").GetString());
        Assert.False(doc.RootElement.GetProperty("sched_ext").GetProperty("supported").GetBoolean());
    }

    [Fact]
    public void ARefusedStatusIsExit1NotUnreachable()
    {
        using var daemon = new FakeDaemon("""{"v":1,"ok":false,"error":{"code":"rate_limited","message":"slow down"}}""", TimeSpan.Zero);

        CliResult r = CliHarness.Run("status", "--socket", daemon.SocketPath);

        Assert.Equal((int)ReturnCode.Error, r.Code);
        Assert.StartsWith("daemon      status failed: rate_limited: slow down\n", r.Out);
    }

    [Fact]
    public void UnknownOptionIsAUsageError()
    {
        CliResult r = CliHarness.Run("status", "--bogus");

        Assert.Equal((int)ReturnCode.UsageError, r.Code);
        Assert.StartsWith("agentsched: Unrecognized command or argument '--bogus'", r.Err);
    }
}
