using System.Text.Json;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Scheduler;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Tests;

/// <summary>The steps op against a fake scheduler that holds step rings for real thread ids.</summary>
public sealed class StepsQueryTests
{
    private static readonly PeerCredentials s_root = new(1, 0, 0);
    private static readonly SchedExtStatus s_enabled = new(true, "enabled", "agent_class", 1, true, "7.3.4-test");

    private static async Task<SchedulerSupervisor> AttachedAsync(FakeBpfScheduler fake, bool traceSteps = true, string mode = "auto")
    {
        var registry = new MarkRegistry(new LiveOptions<ApiOptions>(new ApiOptions()), NullLogger<MarkRegistry>.Instance);
        var s = new SchedulerSupervisor(fake, registry, Options.Create(new SchedulerOptions { Mode = mode, TraceSteps = traceSteps }),
            () => fake.IsAttached ? s_enabled : s_enabled with { State = "disabled", Ops = null }, TimeProvider.System, NullLogger<SchedulerSupervisor>.Instance);
        await s.StartAsync(CancellationToken.None);
        return s;
    }

    private static TaskSteps Ring(ulong steps, params ulong[] endNs) => new(steps,
        [.. endNs.Select((end, i) => new TaskStep(steps - (ulong)endNs.Length + 1 + (ulong)i, end, 3_000_000, 500_000, 2_400_000, 1, 0, 1, 2, AgentClass.Burst, HomeHit: false, Demoted: i == 0))]);

    private static (string? Code, JsonElement Body) Run(SchedulerSupervisor s, PeerCredentials peer, int pid, long? afterNs = null)
    {
        RegistryResult r = new StepsQuery(s).Run(peer, new ApiRequest(ApiOp.Steps) { Pid = pid, AfterNs = afterNs });
        if (r.Error is { } error)
        {
            return (error.Code, default);
        }
        return (null, r.BodyJson());
    }

    /// <summary>A thread of this process other than its main one.</summary>
    private static int OtherThread()
    {
        using ProcessHandle self = ProcessHandle.Open(Environment.ProcessId);
        return self.ThreadIds().First(t => t != Environment.ProcessId);
    }

    [Fact]
    public void TaskClassHasTheSchedulersClassIds()
    {
        // The daemon casts between them (hints, step records): same names, same values.
        Assert.Equal(Enum.GetValues<AgentClass>().Select(c => (c.ToString(), (int)c)),
            Enum.GetValues<TaskClass>().Select(c => (c.ToString(), (int)c)));
    }

    [Fact]
    public async Task AProcessAnswersForEachOfItsThreadsThatRecordedSteps()
    {
        var fake = new FakeBpfScheduler();
        int pid = Environment.ProcessId, other = OtherThread();
        fake.Steps[pid] = Ring(40, 1000, 2000, 3000);
        fake.Steps[other] = Ring(2, 1500, 2500);
        SchedulerSupervisor s = await AttachedAsync(fake);

        (string? code, JsonElement body) = Run(s, s_root, pid);

        Assert.Null(code);
        Assert.Equal(pid, body.GetProperty("pid").GetInt32());
        Assert.True(body.GetProperty("now_ns").GetUInt64() > 0);
        var threads = body.GetProperty("threads").EnumerateArray().ToDictionary(t => t.GetProperty("tid").GetInt32());
        Assert.Equal(new[] { pid, other }.Order(), threads.Keys.Order());   // threads without a ring are left out
        JsonElement main = threads[pid];
        Assert.Equal(40UL, main.GetProperty("steps").GetUInt64());
        Assert.Equal(File.ReadAllText($"/proc/{pid}/task/{pid}/comm").TrimEnd('\n'), main.GetProperty("comm").GetString());
        JsonElement first = main.GetProperty("recent")[0];
        Assert.Equal(38UL, first.GetProperty("seq").GetUInt64());
        Assert.Equal("burst", first.GetProperty("class").GetString());
        Assert.Equal((3_000_000UL, 500_000UL, 2_400_000UL), (first.GetProperty("total_ns").GetUInt64(), first.GetProperty("wait_ns").GetUInt64(), first.GetProperty("run_ns").GetUInt64()));
        Assert.Equal((1, 0, false, 1, 2, true), (first.GetProperty("cpu").GetInt32(), first.GetProperty("home_cpu").GetInt32(), first.GetProperty("home_hit").GetBoolean(),
            first.GetProperty("migrations").GetInt32(), first.GetProperty("preemptions").GetInt32(), first.GetProperty("demoted").GetBoolean()));
        await s.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AfterNsKeepsOnlyLaterStepsAndAThreadIdNamesThatThreadAlone()
    {
        var fake = new FakeBpfScheduler();
        int pid = Environment.ProcessId, other = OtherThread();
        fake.Steps[pid] = Ring(3, 1000, 2000, 3000);
        fake.Steps[other] = Ring(2, 1500, 2500);
        SchedulerSupervisor s = await AttachedAsync(fake);

        JsonElement later = Run(s, s_root, pid, afterNs: 2000).Body;
        JsonElement thread = Run(s, s_root, other).Body;

        var recent = later.GetProperty("threads").EnumerateArray().ToDictionary(t => t.GetProperty("tid").GetInt32(),
            t => t.GetProperty("recent").EnumerateArray().Select(r => r.GetProperty("end_ns").GetUInt64()).ToArray());
        Assert.Equal([3000UL], recent[pid]);
        Assert.Equal([2500UL], recent[other]);
        Assert.Equal(other, thread.GetProperty("threads").EnumerateArray().Single().GetProperty("tid").GetInt32());
        Assert.Equal(other, thread.GetProperty("pid").GetInt32());
        await s.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task WithoutTracingOrForAnotherUsersProcessOrAGoneOneTheAnswerIsAnError()
    {
        var fake = new FakeBpfScheduler();
        SchedulerSupervisor on = await AttachedAsync(fake);
        SchedulerSupervisor off = await AttachedAsync(new FakeBpfScheduler(), traceSteps: false);
        SchedulerSupervisor fallback = await AttachedAsync(new FakeBpfScheduler(), mode: "fallback");
        const int gonePid = int.MaxValue;   // above any pid_max

        Assert.Equal(ErrorCode.NotTracing, Run(off, s_root, Environment.ProcessId).Code);
        Assert.Equal(ErrorCode.NotTracing, Run(fallback, s_root, Environment.ProcessId).Code);
        Assert.Equal(ErrorCode.PermissionDenied, Run(on, new PeerCredentials(1, 4242, 4242), Environment.ProcessId).Code);
        Assert.Equal(ErrorCode.NoSuchProcess, Run(on, s_root, gonePid).Code);
        foreach (SchedulerSupervisor s in new[] { on, off, fallback }) await s.StopAsync(CancellationToken.None);
    }
}
