using System.Text.Json;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Scheduler;
using AgentSched.Daemon.State;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Tests;

/// <summary>step_grant and step_revoke against a fake scheduler: what reaches the hint map, the limits, persistence.</summary>
public sealed class StepGrantTests
{
    private static readonly PeerCredentials s_self = new(Environment.ProcessId, 0, 0);
    private static readonly SchedExtStatus s_enabled = new(true, "enabled", "agent_class", 1, true, "7.3.4-test");

    private static async Task<(MarkRegistry Registry, FakeBpfScheduler Fake)> AttachedAsync(ApiOptions? api = null, string? selfStepsMissing = null, bool partial = false)
    {
        var fake = new FakeBpfScheduler { SelfStepsMissing = selfStepsMissing };
        var registry = new MarkRegistry(new LiveOptions<ApiOptions>(api ?? new ApiOptions()), NullLogger<MarkRegistry>.Instance);
        var s = new SchedulerSupervisor(fake, registry, Options.Create(new SchedulerOptions { Mode = "auto", Partial = partial }),
            () => fake.IsAttached ? s_enabled : s_enabled with { State = "disabled", Ops = null }, TimeProvider.System, NullLogger<SchedulerSupervisor>.Instance);
        await s.StartAsync(CancellationToken.None);
        Assert.Equal("sched_ext", registry.Mode);
        return (registry, fake);
    }

    private static JsonElement Body(RegistryResult r)
    {
        Assert.Null(r.Error);
        return r.BodyJson();
    }

    /// <summary>Threads of this process other than its main one.</summary>
    private static int[] OtherThreads()
    {
        using ProcessHandle self = ProcessHandle.Open(Environment.ProcessId);
        return [.. self.ThreadIds().Where(t => t != Environment.ProcessId)];
    }

    [Fact]
    public async Task AGrantIsAFlaggedNormalHintUntilRevoked()
    {
        (MarkRegistry registry, FakeBpfScheduler fake) = await AttachedAsync();
        int tid = OtherThreads()[0];

        JsonElement grant = Body(registry.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant) { Tid = tid, WindowMs = 2000, BudgetUs = 3000 }));

        Assert.True(grant.GetProperty("granted").GetBoolean());
        Assert.Equal((int)AgentSelfStep.PrctlStep, grant.GetProperty("prctl").GetInt32());
        Assert.Equal(2000, grant.GetProperty("window_max_ms").GetInt32());
        Assert.Equal(100, grant.GetProperty("default_window_ms").GetInt32());
        AgentHint hint = fake.Hints[tid];
        Assert.Equal((uint)AgentClass.Normal, hint.ClassId);
        Assert.Equal((uint)AgentHintFlags.SelfStep, hint.Flags);
        Assert.Equal(2000u, hint.SelfWindowMs);
        Assert.Equal(3000u, hint.StepBudgetUs);
        Assert.Equal(0UL, hint.WindowEndNs);
        Assert.NotEqual(0u, hint.GrantSeq);

        // A socket step on top keeps the grant in the hint. Its end leaves the grant standing but
        // renumbered, so that a window the thread opened itself ends as well.
        Body(registry.StepBegin(s_self, new ApiRequest(ApiOp.StepBegin) { Tid = tid, WindowMs = 500 }));
        Assert.Equal(((uint)AgentClass.Burst, (uint)AgentHintFlags.SelfStep, hint.GrantSeq), (fake.Hints[tid].ClassId, fake.Hints[tid].Flags, fake.Hints[tid].GrantSeq));
        Body(registry.StepEnd(s_self, new ApiRequest(ApiOp.StepEnd) { Tid = tid }));
        Assert.Equal(((uint)AgentClass.Normal, (uint)AgentHintFlags.SelfStep), (fake.Hints[tid].ClassId, fake.Hints[tid].Flags));
        Assert.NotEqual(hint.GrantSeq, fake.Hints[tid].GrantSeq);

        // A renewed grant is a new grant.
        uint before = fake.Hints[tid].GrantSeq;
        Body(registry.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant) { Tid = tid, WindowMs = 2000 }));
        Assert.NotEqual(before, fake.Hints[tid].GrantSeq);

        Assert.True(Body(registry.StepRevoke(s_self, new ApiRequest(ApiOp.StepRevoke) { Tid = tid })).GetProperty("was_granted").GetBoolean());
        Assert.False(fake.Hints.ContainsKey(tid));
        Assert.False(Body(registry.StepRevoke(s_self, new ApiRequest(ApiOp.StepRevoke) { Tid = tid })).GetProperty("was_granted").GetBoolean());
    }

    [Fact]
    public async Task WithoutSelfStepsInTheSchedulerNothingIsGrantedAndTheAnswerSaysWhy()
    {
        (MarkRegistry registry, FakeBpfScheduler fake) = await AttachedAsync(selfStepsMissing: "the kernel has no security_task_prctl to attach self-steps to");

        JsonElement grant = Body(registry.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant)));

        Assert.False(grant.GetProperty("granted").GetBoolean());
        Assert.Contains("security_task_prctl", grant.GetProperty("reason").GetString());
        Assert.Empty(fake.Hints);
        Assert.Equal(0, registry.Count);

        // Partial mode: a granted task would sit on SCHED_EXT between its steps, below every fair-class task.
        (MarkRegistry partial, _) = await AttachedAsync(partial: true);
        JsonElement refused = Body(partial.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant)));
        Assert.False(refused.GetProperty("granted").GetBoolean());
        Assert.Contains("partial mode", refused.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task AMarkOnTheProcessKeepsItsGrant()
    {
        (MarkRegistry registry, FakeBpfScheduler fake) = await AttachedAsync();
        int pid = Environment.ProcessId;

        Body(registry.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant)));
        uint seq = fake.Hints[pid].GrantSeq;
        Body(registry.Mark(s_self, new ApiRequest(ApiOp.Mark) { Pid = pid, Class = TaskClass.Batch }));

        Assert.Equal(((uint)AgentClass.Batch, (uint)AgentHintFlags.SelfStep, seq), (fake.Hints[pid].ClassId, fake.Hints[pid].Flags, fake.Hints[pid].GrantSeq));
        Body(registry.Unmark(s_self, new ApiRequest(ApiOp.Unmark) { Pid = pid }));
        Assert.False(fake.Hints.ContainsKey(pid));
    }

    [Fact]
    public async Task AGrantCountsAsABurstTaskAgainstTheUidsLimit()
    {
        (MarkRegistry registry, _) = await AttachedAsync(new ApiOptions { MaxBurstTasksPerUid = 1 });
        int[] threads = OtherThreads();
        Assert.True(threads.Length >= 2);

        Body(registry.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant) { Tid = threads[0] }));
        RegistryResult second = registry.StepGrant(s_self, new ApiRequest(ApiOp.StepGrant) { Tid = threads[1] });
        RegistryResult step = registry.StepBegin(s_self, new ApiRequest(ApiOp.StepBegin) { Tid = threads[1] });

        Assert.Equal(ErrorCode.LimitExceeded, second.Error?.Code);
        Assert.Equal(ErrorCode.LimitExceeded, step.Error?.Code);
        // The granted thread's own socket step is not a second BURST task.
        Body(registry.StepBegin(s_self, new ApiRequest(ApiOp.StepBegin) { Tid = threads[0] }));
    }

    [Fact]
    public void AGrantSurvivesTheMarksFile()
    {
        var state = new MarkState(null, null, null, null, null, null, new StepGrant(1500, 2500, 99));
        var mark = new PersistedMark(42, true, 777, 1000, state, new Dictionary<int, SavedThread>());

        PersistedMark back = MarkSerializer.Read(JsonDocument.Parse(MarkSerializer.ToLine(mark)).RootElement);

        Assert.Equal(new StepGrant(1500, 2500, 99), back.State.Grant);
        Assert.Equal(TaskClass.Normal, back.State.EffectiveAt(0)?.Class);
        Assert.Equal(1500, back.State.EffectiveAt(0)?.SelfWindowMs);
    }
}
