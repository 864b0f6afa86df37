using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;

namespace AgentSched.Interop.Scheduler;

/// <summary>
/// The agent_class BPF scheduler: configured and loaded by <see cref="Load(AgentClassTunables, string?)"/>,
/// attached by <see cref="Attach"/>, steered through per-task hints, observed through its counters.
/// It can be pinned in bpffs (<see cref="Pin"/>) so it outlives this process, and a later process
/// takes it over from the pins with <see cref="Adopt"/>.
/// <para>
/// <see cref="Dispose"/> closes this process's handles (link first, then the object). Without pins
/// that detaches the scheduler; while <see cref="Pin"/>'s pins exist the kernel keeps it attached
/// and only <see cref="Unpin"/> followed by <see cref="Dispose"/> (or <see cref="Detach"/>) detaches it.
/// </para>
/// </summary>
public sealed unsafe partial class AgentClassScheduler : IDisposable
{
    /// <summary>The struct_ops map that is the scheduler.</summary>
    public const string StructOpsMap = "agent_class_ops";

    /// <summary>The program that answers self-step prctls (bpf/intf.h, AGENT_PRCTL_STEP), and the kernel function it attaches to.</summary>
    public const string SelfStepProgram = "agent_self_step", SelfStepHook = "security_task_prctl";

    private readonly BpfObject? _obj;   // null when adopted from pins
    private readonly BpfMap _hints, _stats, _latency, _stepStats, _stepRings, _exitInfo;
    private BpfLink? _link, _selfStepLink;
    private string? _selfStepProblem;   // why there is no self-step link: not loaded, attach failed, not pinned

    private AgentClassScheduler(BpfObject? obj, BpfMap hints, BpfMap stats, BpfMap latency, BpfMap stepStats, BpfMap stepRings, BpfMap exitInfo, BpfLink? link)
    {
        _obj = obj;
        _hints = hints;
        _stats = stats;
        _latency = latency;
        _stepStats = stepStats;
        _stepRings = stepRings;
        _exitInfo = exitInfo;
        _link = link;
    }

    /// <summary>
    /// This instance holds the scheduler's link (for an adopted one: the pinned link opened). The
    /// kernel may still have ejected the scheduler since: see <see cref="ReadExitInfo"/>.
    /// </summary>
    public bool IsAttached => _link is { IsDetached: false };

    /// <summary>
    /// Why granted tasks cannot open their own steps (AGENT_PRCTL_STEP) now: the scheduler is not
    /// attached, the kernel has no <see cref="SelfStepHook"/>, or attaching the self-step program
    /// failed. Null when it is attached beside the scheduler.
    /// </summary>
    public string? SelfStepsUnavailable =>
        !IsAttached ? "agent_class is not attached"
        : _selfStepLink is { IsDetached: false } ? null
        : _selfStepProblem ?? "the self-step program is not attached";

    /// <summary>The task-storage map of hints, e.g. to pass to <see cref="Load(AgentClassTunables, string?, BpfMap?)"/> of a replacement.</summary>
    public BpfMap Hints => _hints;

    /// <summary>Opens the embedded object (or <paramref name="objectPath"/>), sets the tunables, loads it (the verifier runs here).</summary>
    public static AgentClassScheduler Load(AgentClassTunables t, string? objectPath = null) => Load(t, objectPath, reuseHints: null);

    /// <summary>
    /// Like <see cref="Load(AgentClassTunables, string?)"/>, but the new object's <c>hints</c> map is
    /// <paramref name="reuseHints"/> (e.g. <see cref="BpfMap.OpenPinned"/> of a pinned <c>hints</c>),
    /// so hints set before a reload still apply after it. The caller keeps ownership of <paramref name="reuseHints"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="reuseHints"/> is not a map like agent_class's <c>hints</c>.</exception>
    public static AgentClassScheduler Load(AgentClassTunables t, string? objectPath, BpfMap? reuseHints)
    {
        try
        {
            return Load(t, objectPath, reuseHints, selfSteps: true);
        }
        catch (BpfException e) when (e.Operation == "bpf_object__load" && e.LibbpfLog.Contains(SelfStepHook, StringComparison.Ordinal))
        {
            // A kernel without the hook (no CONFIG_SECURITY) fails the whole load on that one
            // program: agent_class then runs without self-steps. Checked this way rather than in
            // the kernel's BTF beforehand, which would parse it a second time on every attach.
            return Load(t, objectPath, reuseHints, selfSteps: false);
        }
    }

    private static AgentClassScheduler Load(AgentClassTunables t, string? objectPath, BpfMap? reuseHints, bool selfSteps)
    {
        BpfObject obj = objectPath is { Length: > 0 } ? BpfObject.OpenFile(objectPath) : BpfObject.OpenEmbedded();
        try
        {
            obj.SetRodata("slice_ns", (ulong)t.SliceUs * 1000);
            obj.SetRodata("batch_slice_mult", (uint)t.BatchSliceMultiplier);
            obj.SetRodata("step_budget_ns", (ulong)t.StepBudgetUs * 1000);
            obj.SetRodata("credit_period_ns", (ulong)t.CreditPeriodMs * 1_000_000);
            obj.SetRodata("credit_share_pct", (uint)t.CreditSharePercent);
            obj.SetRodata("starve_ns", (ulong)t.StarveMs * 1_000_000);
            obj.SetRodata("antimig_ns", (ulong)t.AntiMigrationUs * 1000);
            obj.SetRodata("trace_steps", (byte)(t.TraceSteps ? 1 : 0));
            obj.SetRodata("nr_cpus", (uint)Math.Min(BpfMap.PossibleCpus, AgentLimits.MaxCpus));
            if (t.Partial)
            {
                // The flag's value comes from the kernel headers the object was compiled against.
                ulong partial = (ulong)obj.Btf.Enum("scx_ops_flags")["SCX_OPS_SWITCH_PARTIAL"];
                obj.SetStructOpsField(StructOpsMap, "sched_ext_ops", "flags", partial);
            }
            if (reuseHints is not null)
            {
                obj.ReuseMap(HintsPin, reuseHints);
            }
            if (!selfSteps)
            {
                obj.SkipProgram(SelfStepProgram);
            }
            obj.Load();
            var scheduler = new AgentClassScheduler(obj, obj.Map(HintsPin), obj.Map(StatsPin), obj.Map(LatencyPin),
                obj.Map(StepStatsPin), obj.Map(StepRingsPin), obj.Map(ExitInfoPin), link: null)
            {
                _selfStepProblem = selfSteps ? null : $"the kernel has no {SelfStepHook} to attach self-steps to",
            };
            return scheduler;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Registers the scheduler with the kernel.</summary>
    /// <exception cref="InvalidOperationException">Already attached, or adopted from pins (there is no object to attach).</exception>
    public void Attach()
    {
        if (IsAttached)
        {
            throw new InvalidOperationException("agent_class is already attached");
        }
        if (_obj is null)
        {
            throw new InvalidOperationException("this agent_class was adopted from pins and has no BPF object to attach; Load() a new one");
        }
        _link = _obj.AttachStructOps(StructOpsMap);
        AttachSelfSteps(_obj);
    }

    /// <summary>Attaches the self-step program; a failure leaves the scheduler attached without self-steps.</summary>
    private void AttachSelfSteps(BpfObject obj)
    {
        if (_selfStepProblem is not null)
        {
            return; // not loaded
        }
        try
        {
            _selfStepLink = obj.AttachProgram(SelfStepProgram);
        }
        catch (BpfException e)
        {
            _selfStepProblem = $"attaching {SelfStepProgram} to {SelfStepHook} failed: {e.Message}";
        }
    }

    /// <summary>Sets the hint of a task (a whole process when <paramref name="pid"/> is a thread-group leader).</summary>
    /// <exception cref="SyscallException">The pid does not exist (pidfd_open: ESRCH).</exception>
    /// <exception cref="BpfException">The map update failed.</exception>
    public void SetHint(int pid, AgentHint hint)
    {
        using ProcessHandle process = ProcessHandle.Open(pid);
        SetHint(process, hint);
    }

    /// <summary>Sets the hint of the process behind <paramref name="process"/>'s pidfd; it dies with that process.</summary>
    /// <exception cref="BpfException">The map update failed (ENOENT when the process has exited: the
    /// kernel finds no task behind the pidfd).</exception>
    public void SetHint(ProcessHandle process, AgentHint hint)
    {
        int pidfd = process.Fd;
        _hints.Update(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in pidfd)), MemoryMarshal.AsBytes(new ReadOnlySpan<AgentHint>(in hint)));
        GC.KeepAlive(process);
    }

    /// <summary>Removes a task's hint; false when it had none.</summary>
    /// <exception cref="SyscallException">The pid does not exist (pidfd_open: ESRCH).</exception>
    public bool ClearHint(int pid)
    {
        using ProcessHandle process = ProcessHandle.Open(pid);
        return ClearHint(process);
    }

    /// <summary>Removes the hint of the process behind <paramref name="process"/>'s pidfd; false when it had none (or has exited).</summary>
    public bool ClearHint(ProcessHandle process)
    {
        int pidfd = process.Fd;
        bool removed = _hints.Delete(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in pidfd)));
        GC.KeepAlive(process);
        return removed;
    }

    /// <summary>The scheduler's counters, summed over CPUs.</summary>
    public IReadOnlyDictionary<AgentStat, ulong> ReadStats()
    {
        ulong[][] rows = _stats.LookupPerCpu();
        return Enum.GetValues<AgentStat>().ToDictionary(s => s, s => Sum(s, rows));
    }

    /// <summary>
    /// A counter summed over CPUs. The runnable gauges wrap below zero on the CPU a task left, so
    /// they are summed modulo 2^64; a sum caught mid-update below zero reads as 0.
    /// </summary>
    private static ulong Sum(AgentStat stat, ulong[][] rows)
    {
        ulong sum = unchecked(rows.Aggregate(0UL, (total, row) => total + row[(int)stat]));
        return stat is AgentStat.RunnableNormal or AgentStat.RunnableBurst or AgentStat.RunnableBatch && sum > long.MaxValue ? 0 : sum;
    }

    /// <summary>The per-class queue-wait histograms.</summary>
    public AgentLatencySnapshot ReadLatency() => AgentLatencySnapshot.FromPerCpu(_latency.LookupPerCpu());

    /// <summary>The per-class step histograms and counters (all zero when loaded with <see cref="AgentClassTunables.TraceSteps"/> off).</summary>
    public AgentStepSnapshot ReadStepStats() => AgentStepSnapshot.FromPerCpu(_stepStats.LookupPerCpu());

    /// <summary>
    /// The recent steps of one thread (opened with <see cref="ProcessHandle.OpenThread"/>; a
    /// process's pidfd names its leader thread); null when the scheduler has recorded none for it:
    /// it never finished a step while it had a hint, or tracing is off.
    /// </summary>
    /// <exception cref="BpfException">The lookup failed for another reason than there being no steps.</exception>
    public TaskSteps? ReadSteps(ProcessHandle thread)
    {
        int pidfd = thread.Fd;
        byte[] value = new byte[sizeof(AgentStepRing)];
        bool found = _stepRings.TryLookup(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in pidfd)), value, locked: true);
        GC.KeepAlive(thread);
        return found ? TaskSteps.Parse(value) : null;
    }

    /// <summary>Why the scheduler left the kernel (written by its ops.exit); null while it has not.</summary>
    public SchedulerExit? ReadExitInfo()
    {
        AgentExitInfo info = default;
        uint zero = 0;
        _exitInfo.TryLookup(MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in zero)), MemoryMarshal.AsBytes(new Span<AgentExitInfo>(ref info)));
        return SchedulerExit.From(in info);
    }

    /// <summary>
    /// Detaches now: removes the link's pin if there is one (the map pins stay, see <see cref="Unpin"/>)
    /// and closes the link. The kernel detaches once no other process holds the link open.
    /// </summary>
    public void Detach()
    {
        // Self-steps first: from then on the prctl fails (EINVAL) rather than being ignored.
        _selfStepLink?.Detach();
        _selfStepLink = null;
        _link?.Detach();
        _link = null;
    }

    /// <summary>
    /// Closes this process's handles, link first. Without pins that detaches the scheduler; with the
    /// link pinned it stays attached (call <see cref="Unpin"/> first to detach).
    /// </summary>
    public void Dispose()
    {
        _selfStepLink?.Dispose();
        _selfStepLink = null;
        _link?.Dispose();
        _link = null;
        _hints.Dispose();
        _stats.Dispose();
        _latency.Dispose();
        _stepStats.Dispose();
        _stepRings.Dispose();
        _exitInfo.Dispose();
        _obj?.Dispose();
    }
}
