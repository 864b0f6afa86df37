using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Scheduler;
using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Tests;

/// <summary>The supervisor's decisions, against a fake scheduler and scripted sched_ext states.</summary>
public sealed class SchedulerSupervisorTests
{
    private static readonly SchedExtStatus s_disabled = new(true, "disabled", null, 0, false, "7.3.4-test");
    private static readonly SchedExtStatus s_enabled = new(true, "enabled", "agent_class", 1, true, "7.3.4-test");

    /// <summary>A supervisor whose sched_ext status is whatever <paramref name="status"/> returns at each read.</summary>
    private static SchedulerSupervisor Supervisor(FakeBpfScheduler fake, Func<SchedExtStatus> status, string mode = "auto", Action<SchedulerOptions>? configure = null)
    {
        var o = new SchedulerOptions { SliceUs = 2500, Mode = mode, ReattachInitialDelayMs = 10, ReattachMaxDelayMs = 40, MaxReattachAttempts = 3 };
        configure?.Invoke(o);
        var registry = new MarkRegistry(new LiveOptions<ApiOptions>(new ApiOptions()), NullLogger<MarkRegistry>.Instance);
        return new SchedulerSupervisor(fake, registry, Options.Create(o), status, TimeProvider.System, NullLogger<SchedulerSupervisor>.Instance);
    }

    /// <summary>Status that says "enabled" exactly when the fake is attached (and, after attaches, a higher enable_seq).</summary>
    private static Func<SchedExtStatus> Follow(FakeBpfScheduler fake) =>
        () => fake.IsAttached ? s_enabled with { EnableSeq = fake.Attaches } : s_disabled;

    [Fact]
    public async Task AttachesOnStartAndDetachesOnStop()
    {
        var fake = new FakeBpfScheduler();
        SchedulerSupervisor s = Supervisor(fake, Follow(fake));

        await s.StartAsync(CancellationToken.None);
        Assert.True(fake.IsAttached);
        Assert.Equal(2500, fake.AttachedWith!.SliceUs);
        Assert.Equal(("sched_ext", true), (s.State.Mode, s.State.Healthy));

        await s.StopAsync(CancellationToken.None);
        Assert.False(fake.IsAttached);
        Assert.Equal(1, fake.Detaches);
    }

    [Fact]
    public async Task APinnedSchedulerIsAdoptedNotReattached()
    {
        var fake = new FakeBpfScheduler { Adoptable = true };
        SchedulerSupervisor s = Supervisor(fake, () => s_enabled);

        await s.StartAsync(CancellationToken.None);

        Assert.Equal(0, fake.AttachCalls);
        Assert.Equal("sched_ext", s.State.Mode);
        Assert.Contains("adopted", s.State.Reason);
        await s.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task WithoutSchedExtAutoFallsBackAndSchedExtModeExitsWith3()
    {
        var unsupported = new SchedExtStatus(false, "unsupported", null, null, null, "6.1.0");

        SchedulerSupervisor auto = Supervisor(new FakeBpfScheduler(), () => unsupported);
        await auto.StartAsync(CancellationToken.None);
        Assert.Equal(("fallback", true), (auto.State.Mode, auto.State.Healthy));
        Assert.Equal("this kernel (6.1.0) has no sched_ext (CONFIG_SCHED_CLASS_EXT)", auto.State.Reason);
        await auto.StopAsync(CancellationToken.None);

        var fake = new FakeBpfScheduler();
        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => Supervisor(fake, () => unsupported, "sched_ext").StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.NoSchedExt, e.ExitCode);
        Assert.Equal("this kernel (6.1.0) has no sched_ext (CONFIG_SCHED_CLASS_EXT); see agentsched doctor", e.Message);
        Assert.Equal(0, fake.AttachCalls);
    }

    [Fact]
    public async Task AnotherSchedulerIsLeftAloneBusyOrUnhealthyFallback()
    {
        var fake = new FakeBpfScheduler();
        var e = await Assert.ThrowsAsync<DaemonStartupException>(() =>
            Supervisor(fake, () => s_enabled with { Ops = "scx_simple" }, "sched_ext").StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.SchedulerBusy, e.ExitCode);
        Assert.Contains("scx_simple", e.Message);

        SchedulerSupervisor auto = Supervisor(fake, () => s_enabled with { Ops = "scx_simple" });
        await auto.StartAsync(CancellationToken.None);
        Assert.Equal(("fallback", false), (auto.State.Mode, auto.State.Healthy));
        Assert.Contains("scx_simple", auto.State.Reason);
        Assert.Equal(0, fake.AttachCalls);
        await auto.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task LoadFailuresGetTheirOwnCodesOrAnUnhealthyFallbackCarryingTheVerifierLog()
    {
        var eperm = new FakeBpfScheduler(new BpfException("bpf_object__load", 1));
        var e1 = await Assert.ThrowsAsync<DaemonStartupException>(() => Supervisor(eperm, Follow(eperm), "sched_ext").StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.PermissionDenied, e1.ExitCode);
        Assert.Contains("needs root", e1.Message);

        var busy = new FakeBpfScheduler(new BpfException("bpf_map__attach_struct_ops", 16));
        var e2 = await Assert.ThrowsAsync<DaemonStartupException>(() => Supervisor(busy, Follow(busy), "sched_ext").StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.SchedulerBusy, e2.ExitCode);

        var rejected = new FakeBpfScheduler(new BpfException("bpf_object__load", 13, "R0 invalid mem access 'map_value_or_null'"));
        var e3 = await Assert.ThrowsAsync<DaemonStartupException>(() => Supervisor(rejected, Follow(rejected), "sched_ext").StartAsync(CancellationToken.None));
        Assert.Equal(DaemonExitCode.LoadFailed, e3.ExitCode);
        Assert.Contains("invalid mem access 'map_value_or_null'", e3.Message);

        var rejectedAuto = new FakeBpfScheduler(new BpfException("bpf_object__load", 13, "R0 invalid mem access 'map_value_or_null'"));
        SchedulerSupervisor auto = Supervisor(rejectedAuto, Follow(rejectedAuto));
        await auto.StartAsync(CancellationToken.None);
        Assert.Equal(("fallback", false), (auto.State.Mode, auto.State.Healthy));
        Assert.Contains("invalid mem access 'map_value_or_null'", auto.State.Reason);
        await auto.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AnEjectionIsRecordedAndTheSchedulerReattached()
    {
        var fake = new FakeBpfScheduler();
        SchedulerSupervisor s = Supervisor(fake, Follow(fake));
        await s.StartAsync(CancellationToken.None);

        // The kernel ejects it: sysfs says disabled and ops.exit filled exit_info.
        fake.Exit = new SchedulerExit(67, "SCX_EXIT_SYSRQ", 0, "disabled by sysrq-S", "");
        fake.ReleaseEjected(); // what the kernel's side looks like: no longer attached
        await WaitAsync(() => fake.Attaches == 2, "re-attach");

        Assert.Equal(("sched_ext", true, 1), (s.State.Mode, s.State.Healthy, s.State.Ejections));
        Assert.Equal("SCX_EXIT_SYSRQ", s.State.LastEjection!.Exit.KindName);
        await s.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RepeatedReattachFailuresEndInAnUnhealthyFallback()
    {
        var fake = new FakeBpfScheduler();
        SchedulerSupervisor s = Supervisor(fake, Follow(fake));
        await s.StartAsync(CancellationToken.None);

        var failure = new BpfException("bpf_object__load", 22);
        fake.FailNextAttaches(failure, failure, failure, failure, failure);
        fake.Exit = new SchedulerExit(1026, "SCX_EXIT_ERROR_STALL", 0, "runnable task stall", "watchdog failed to check in");
        fake.ReleaseEjected();
        await WaitAsync(() => s.State.Reason.Contains("staying in fallback"), "giving up");

        Assert.Equal(("fallback", false), (s.State.Mode, s.State.Healthy));
        Assert.Equal(1 + 3, fake.AttachCalls); // the first attach, then MaxReattachAttempts
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal(1 + 3, fake.AttachCalls); // and no more
        await s.StopAsync(CancellationToken.None);
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }
        Assert.True(condition(), $"{what} did not happen within 5 s");
    }
}
