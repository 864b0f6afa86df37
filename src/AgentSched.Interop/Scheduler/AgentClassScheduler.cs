using AgentSched.Interop.Abi;
using AgentSched.Interop.Native;

namespace AgentSched.Interop.Scheduler;

/// <summary>
/// The agent_class BPF scheduler: configured and loaded by <see cref="Load"/>, attached by
/// <see cref="Attach"/>, steered through per-task hints, observed through its counters.
/// Disposing it detaches the scheduler (link first, then the object).
/// </summary>
public sealed unsafe class AgentClassScheduler : IDisposable
{
    public const string StructOpsMap = "agent_class_ops";

    private readonly BpfObject _obj;
    private readonly BpfMap _hints, _stats, _latency;
    private BpfLink? _link;

    private AgentClassScheduler(BpfObject obj)
    {
        _obj = obj;
        _hints = obj.Map("hints");
        _stats = obj.Map("stats");
        _latency = obj.Map("latency");
    }

    public bool IsAttached => _link is { IsDetached: false };

    /// <summary>Opens the embedded object (or <paramref name="objectPath"/>), sets the tunables, loads it (the verifier runs here).</summary>
    public static AgentClassScheduler Load(AgentClassTunables t, string? objectPath = null)
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
            obj.SetRodata("nr_cpus", (uint)Math.Min(BpfMap.PossibleCpus, AgentLimits.MaxCpus));
            if (t.Partial)
            {
                // The flag's value comes from the kernel headers the object was compiled against.
                ulong partial = (ulong)obj.Btf.Enum("scx_ops_flags")["SCX_OPS_SWITCH_PARTIAL"];
                obj.SetStructOpsField(StructOpsMap, "sched_ext_ops", "flags", partial);
            }
            obj.Load();
            var scheduler = new AgentClassScheduler(obj);
            scheduler.WriteTopology();
            return scheduler;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Registers the scheduler with the kernel.</summary>
    public void Attach()
    {
        if (IsAttached)
        {
            throw new InvalidOperationException("agent_class is already attached");
        }
        _link = _obj.AttachStructOps(StructOpsMap);
    }

    /// <summary>Sets the hint of a task (a whole process when <paramref name="pid"/> is a thread-group leader).</summary>
    /// <exception cref="BpfException">The pid does not exist (pidfd_open: ESRCH), or the map update failed.</exception>
    public void SetHint(int pid, AgentHint hint)
    {
        int pidfd = OpenPidfd(pid);
        try
        {
            _hints.Update(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in pidfd)), MemoryMarshal.AsBytes(new ReadOnlySpan<AgentHint>(in hint)));
        }
        finally
        {
            Libc.Close(pidfd);
        }
    }

    /// <summary>Removes a task's hint; false when it had none.</summary>
    public bool ClearHint(int pid)
    {
        int pidfd = OpenPidfd(pid);
        try
        {
            return _hints.Delete(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in pidfd)));
        }
        finally
        {
            Libc.Close(pidfd);
        }
    }

    /// <summary>The scheduler's counters, summed over CPUs.</summary>
    public IReadOnlyDictionary<AgentStat, ulong> ReadStats()
    {
        ulong[][] rows = _stats.LookupPerCpu();
        return Enum.GetValues<AgentStat>().ToDictionary(s => s, s => rows.Aggregate(0UL, (sum, row) => sum + row[(int)s]));
    }

    /// <summary>The per-class queue-wait histograms.</summary>
    public AgentLatencySnapshot ReadLatency() => AgentLatencySnapshot.FromPerCpu(_latency.LookupPerCpu());

    public void Detach()
    {
        _link?.Dispose();
        _link = null;
    }

    public void Dispose()
    {
        Detach();
        _obj.Dispose();
    }

    private static int OpenPidfd(int pid)
    {
        int fd = Libc.PidfdOpen(pid, 0);
        if (fd < 0)
        {
            throw new BpfException($"pidfd_open({pid})", Marshal.GetLastPInvokeError());
        }
        return fd;
    }

    /// <summary>Fills `cpu_llc` with each CPU's last-level cache id from sysfs (all 0 when unknown).</summary>
    private void WriteTopology()
    {
        BpfMap llc = _obj.Map("cpu_llc");
        int cpus = Math.Min(BpfMap.PossibleCpus, AgentLimits.MaxCpus);
        for (uint cpu = 0; cpu < cpus; cpu++)
        {
            uint id = ReadLlcId(cpu);
            llc.Update(MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in cpu)), MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in id)));
        }
    }

    private static uint ReadLlcId(uint cpu)
    {
        foreach (string index in new[] { "index3", "index2" })
        {
            try
            {
                return uint.Parse(File.ReadAllText($"/sys/devices/system/cpu/cpu{cpu}/cache/{index}/id").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
        }
        return 0;
    }
}
