using AgentSched.Daemon.Scheduler;
using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Tests;

public sealed class SchedulerServiceTests
{
    private static readonly SchedExtStatus s_disabled = new(true, "disabled", null, 0, false, "7.3.4-test");
    private static readonly SchedExtStatus s_enabled = new(true, "enabled", "agent_class", 1, true, "7.3.4-test");

    private static SchedulerService Service(FakeBpfScheduler fake, params SchedExtStatus[] statuses)
    {
        var queue = new Queue<SchedExtStatus>(statuses);
        SchedExtStatus last = statuses[^1];
        return new SchedulerService(fake, Options.Create(new SchedulerOptions { SliceUs = 2500 }),
            () => queue.Count > 0 ? last = queue.Dequeue() : last, NullLogger<SchedulerService>.Instance);
    }

    [Fact]
    public async Task AttachesOnStartAndDetachesOnStop()
    {
        var fake = new FakeBpfScheduler();
        SchedulerService service = Service(fake, s_disabled, s_enabled, s_disabled);

        await service.StartAsync(CancellationToken.None);
        Assert.True(fake.IsAttached);
        Assert.Equal(2500, fake.AttachedWith!.SliceUs);

        await service.StopAsync(CancellationToken.None);
        Assert.False(fake.IsAttached);
        Assert.Equal(1, fake.Detaches);
    }

    [Fact]
    public async Task NoSchedExtIsOneClearLine()
    {
        var fake = new FakeBpfScheduler();
        SchedulerService service = Service(fake, new SchedExtStatus(false, "unsupported", null, null, null, "6.1.0"));

        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => service.StartAsync(CancellationToken.None));

        Assert.Equal(DaemonExitCode.NoSchedExt, e.ExitCode);
        Assert.Equal("this kernel (6.1.0) has no sched_ext (CONFIG_SCHED_CLASS_EXT); see agentsched doctor", e.Message);
        Assert.Null(fake.AttachedWith);
    }

    [Fact]
    public async Task AnotherSchedulerAttachedIsRefusedWithoutTouchingIt()
    {
        var fake = new FakeBpfScheduler();
        SchedulerService service = Service(fake, s_enabled with { Ops = "scx_simple" });

        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => service.StartAsync(CancellationToken.None));

        Assert.Equal(DaemonExitCode.SchedulerBusy, e.ExitCode);
        Assert.Contains("scx_simple", e.Message);
        Assert.Null(fake.AttachedWith);
    }

    [Fact]
    public async Task LosingTheAttachRaceIsBusyToo()
    {
        var fake = new FakeBpfScheduler(new BpfException("bpf_map__attach_struct_ops", 16));
        SchedulerService service = Service(fake, s_disabled, s_enabled with { Ops = "scx_simple" });

        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => service.StartAsync(CancellationToken.None));

        Assert.Equal(DaemonExitCode.SchedulerBusy, e.ExitCode);
        Assert.Contains("scx_simple", e.Message);
    }

    [Fact]
    public async Task PermissionAndVerifierFailuresGetTheirOwnCodes()
    {
        var eperm = new FakeBpfScheduler(new BpfException("bpf_object__load", 1));
        var e1 = await Assert.ThrowsAsync<DaemonStartupException>(() => Service(eperm, s_disabled).StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.PermissionDenied, e1.ExitCode);
        Assert.Contains("needs root", e1.Message);

        var rejected = new FakeBpfScheduler(new BpfException("bpf_object__load", 13, "R0 invalid mem access 'map_value_or_null'"));
        var e2 = await Assert.ThrowsAsync<DaemonStartupException>(() => Service(rejected, s_disabled).StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.LoadFailed, e2.ExitCode);
        Assert.Contains("invalid mem access 'map_value_or_null'", e2.Message);
    }
}
