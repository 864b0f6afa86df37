using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>The built agentschedd, run as a user would run it on this host (no sched_ext).</summary>
public sealed class DaemonProcessTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WithoutSchedExtTheDefaultModeServesInFallbackAndSaysWhy()
    {
        Assert.False(Directory.Exists("/sys/kernel/sched_ext"), "this test expects a host kernel without sched_ext");
        using DaemonProcess d = DaemonProcess.Start();
        await d.WaitForSocketAsync(s_timeout);

        using ApiConnection c = await ApiConnection.OpenAsync(d.SocketPath);
        System.Text.Json.JsonElement status = await c.CallAsync("""{"v":1,"op":"status"}""");

        Assert.Equal("fallback", status.GetProperty("mode").GetString());
        Assert.True(status.GetProperty("healthy").GetBoolean());
        Assert.Matches(@"^this kernel \(.+\) has no sched_ext \(CONFIG_SCHED_CLASS_EXT\)$", status.GetProperty("reason").GetString());
        Assert.False(status.GetProperty("sched_ext").GetProperty("supported").GetBoolean());
        Assert.Contains("mode fallback: this kernel", d.Output);
    }

    [Fact]
    public async Task WithoutSchedExtModeSchedExtExitsWithOneLineAndCode3()
    {
        Assert.False(Directory.Exists("/sys/kernel/sched_ext"), "this test expects a host kernel without sched_ext");

        string dir = DaemonProcess.NewDirectory();
        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Daemon,
            ["--Scheduler:Mode=sched_ext", $"--Api:SocketPath={dir}/s.sock", $"--State:Directory={dir}/state"], s_timeout);

        Assert.Equal((int)DaemonExitCode.NoSchedExt, r.ExitCode);
        string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^agentschedd: this kernel \(.+\) has no sched_ext \(CONFIG_SCHED_CLASS_EXT\); see agentsched doctor$", line);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task InvalidOptionsAreNamedOnePerLineWithCode2()
    {
        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Daemon,
            ["--Scheduler:SliceUs=5", "--Scheduler:BatchSliceMultiplier=0", "--Scheduler:Mode=eevdf", "--Api:SocketMode=999", "--Scheduler:PinPath=/sys/fs/bpf/my.pins"], s_timeout);

        Assert.Equal((int)DaemonExitCode.InvalidConfiguration, r.ExitCode);
        Assert.Equal(
            [
                "agentschedd: invalid configuration: Scheduler:Mode must be auto, sched_ext or fallback (got 'eevdf')",
                "agentschedd: invalid configuration: Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)",
                "agentschedd: invalid configuration: Scheduler:BatchSliceMultiplier must be between 1 and 64 (got 0)",
                "agentschedd: invalid configuration: Scheduler:PinPath must not contain '.' in its last name: bpffs refuses such names (got '/sys/fs/bpf/my.pins')",
                "agentschedd: invalid configuration: Api:SocketMode must be octal permission bits from 000 to 0777, such as 0660 (got '999')",
            ],
            r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
