using System.Runtime.InteropServices;
using AgentSched.Interop;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Interop.Tests;

/// <summary>
/// AgentClassScheduler built from pins alone. agent_class itself cannot load without sched_ext, so
/// agent_maps_twin.bpf.o declares its shared maps the same way (from intf.h) and an iterator link
/// stands in for the struct_ops link; they are pinned under the names Pin() uses.
/// </summary>
public sealed class AgentClassAdoptTests : IDisposable
{
    private const int ENOENT = 2, ESRCH = 3;
    private readonly BpfFsDir _dir = BpfFsDir.Create();
    private readonly BpfObject _twin = BpfObject.OpenEmbedded(typeof(AgentClassAdoptTests).Assembly, "agent_maps_twin.bpf.o");

    public AgentClassAdoptTests() => _twin.Load();

    public void Dispose()
    {
        _twin.Dispose();
        _dir.Dispose();
    }

    private uint PinTwin(bool withLink = true)
    {
        foreach (string name in AgentClassScheduler.MapPins)
        {
            _twin.Map(name).Pin(_dir[name]);
        }
        if (!withLink)
        {
            return 0;
        }
        using BpfLink link = _twin.AttachProgram("stand_in");
        link.Pin(_dir[AgentClassScheduler.LinkPin]);
        return link.Id;
    }

    [Fact]
    public void HintsGoThroughTheAdoptedMapKeyedByPidfd()
    {
        PinTwin();
        using var scheduler = AgentClassScheduler.Adopt(_dir.Path);
        using var child = ChildProcess.Sleep();
        using ProcessHandle process = ProcessHandle.Open(child.Pid);
        var hint = new AgentHint { ClassId = (uint)AgentClass.Burst, HomeCpu = 1, WindowEndNs = 123, StepBudgetUs = 456 };

        Assert.True(scheduler.IsAttached);
        scheduler.SetHint(process, hint);

        Assert.Equal(hint, LookupHint(process));
        Assert.True(scheduler.ClearHint(process));
        Assert.False(scheduler.ClearHint(process));
        scheduler.SetHint(child.Pid, hint);   // the pid overload opens its own pidfd
        Assert.Equal(hint, LookupHint(process));
        Assert.True(scheduler.ClearHint(child.Pid));

        child.KillAndReap();
        Assert.Equal(ENOENT, Assert.Throws<BpfException>(() => scheduler.SetHint(process, hint)).Errno); // no task behind the pidfd
        Assert.False(scheduler.ClearHint(process)); // the same ENOENT reads as "no hint"
        Assert.Equal(ESRCH, Assert.Throws<SyscallException>(() => scheduler.SetHint(child.Pid, hint)).Errno);
    }

    [Fact]
    public void CountersHistogramsAndExitInfoAreReadFromTheAdoptedMaps()
    {
        PinTwin();
        using var scheduler = AgentClassScheduler.Adopt(_dir.Path);
        Assert.Null(scheduler.ReadExitInfo());
        Assert.All(scheduler.ReadStats().Values, v => Assert.Equal(0UL, v));

        int cpus = BpfMap.PossibleCpus;
        ulong[] stats = new ulong[cpus * Enum.GetValues<AgentStat>().Length];
        stats[(int)AgentStat.KickPreempt] = 3;                                               // CPU 0
        stats[(cpus - 1) * Enum.GetValues<AgentStat>().Length + (int)AgentStat.KickPreempt] += 4; // last CPU
        _twin.Map("stats").Update(BitConverter.GetBytes(0u), MemoryMarshal.AsBytes(stats.AsSpan()));
        ulong[] latency = new ulong[cpus * (Marshal.SizeOf<AgentLatency>() / 8)];
        latency[(int)AgentClass.Batch * AgentLatencySizes.Buckets + 10] = 5;
        _twin.Map("latency").Update(BitConverter.GetBytes(0u), MemoryMarshal.AsBytes(latency.AsSpan()));
        var exit = new AgentExitInfo { Kind = 1025, ExitCode = 0 };
        _twin.Map("exit_info").Update(BitConverter.GetBytes(0u), MemoryMarshal.AsBytes(new Span<AgentExitInfo>(ref exit)));

        Assert.Equal(7UL, scheduler.ReadStats()[AgentStat.KickPreempt]);
        Assert.Equal(5UL, scheduler.ReadLatency().Count(AgentClass.Batch));
        Assert.Equal("SCX_EXIT_ERROR_BPF", scheduler.ReadExitInfo()?.KindName);
    }

    [Fact]
    public unsafe void StepHistogramsAreSummedOverCpusByClassAndPart()
    {
        PinTwin();
        using var scheduler = AgentClassScheduler.Adopt(_dir.Path);
        int cpus = BpfMap.PossibleCpus, row = sizeof(AgentStepStats) / 8;
        ulong[] values = new ulong[cpus * row];
        void Set(int cpu, AgentClass c, AgentStepTime t, int bucket, ulong n) =>
            values[cpu * row + ((int)c * AgentStepStats.Times + (int)t) * AgentLatencySizes.Buckets + bucket] = n;
        Set(0, AgentClass.Burst, AgentStepTime.Wait, 12, 2);
        Set(cpus - 1, AgentClass.Burst, AgentStepTime.Wait, 12, 3);
        Set(0, AgentClass.Batch, AgentStepTime.Run, 20, 1);
        int sums = AgentAbi.NrClasses * AgentStepStats.Times * AgentLatencySizes.Buckets, steps = sums + AgentAbi.NrClasses * AgentStepStats.Times;
        values[sums + (int)AgentClass.Burst * AgentStepStats.Times + (int)AgentStepTime.Wait] = 40_000;
        values[steps + (int)AgentClass.Burst] = 5;                                   // steps
        values[(cpus - 1) * row + steps + AgentAbi.NrClasses + (int)AgentClass.Burst] = 7;  // migrations, last CPU
        values[steps + 3 * AgentAbi.NrClasses + (int)AgentClass.Burst] = 4;         // home hits
        _twin.Map(AgentClassScheduler.StepStatsPin).Update(BitConverter.GetBytes(0u), MemoryMarshal.AsBytes(values.AsSpan()));

        AgentStepSnapshot snapshot = scheduler.ReadStepStats();

        Log2Histogram wait = snapshot.Histogram(AgentClass.Burst, AgentStepTime.Wait);
        Assert.Equal(5UL, wait.Count);
        Assert.Equal(40_000UL, wait.SumNs);
        Assert.Equal(1UL << 13, wait.PercentileUpperBoundNs(99));
        Assert.Equal(0UL, snapshot.Histogram(AgentClass.Burst, AgentStepTime.Run).Count);
        Assert.Equal(1UL, snapshot.Histogram(AgentClass.Batch, AgentStepTime.Run).Count);
        Assert.Equal(5UL, snapshot.Steps(AgentClass.Burst));
        Assert.Equal(7UL, snapshot.Migrations(AgentClass.Burst));
        Assert.Equal(0UL, snapshot.Preemptions(AgentClass.Burst));
        Assert.Equal(4UL, snapshot.HomeHits(AgentClass.Burst));
        Assert.Equal(0UL, snapshot.Steps(AgentClass.Normal));
    }

    [Fact]
    public unsafe void StepRingsAreReadPerThreadThroughAPidfdUnderTheirLock()
    {
        PinTwin();
        using var scheduler = AgentClassScheduler.Adopt(_dir.Path);
        using var child = ChildProcess.Sleep();
        using ProcessHandle thread = ProcessHandle.OpenThread(child.Pid);
        Assert.Null(scheduler.ReadSteps(thread));   // nothing recorded: no ring

        int key = thread.Fd;
        TaskSteps Write(ulong steps, ulong first)
        {
            var ring = new AgentStepRing { Steps = steps };
            Span<AgentStep> records = MemoryMarshal.Cast<byte, AgentStep>(new Span<byte>(ring.Ring, AgentStepSizes.RingLen * sizeof(AgentStep)));
            for (ulong n = first; n <= steps; n++)
            {
                records[(int)((n - 1) % AgentStepSizes.RingLen)] = Step(n);
            }
            _twin.Map(AgentClassScheduler.StepRingsPin).Update(BitConverter.GetBytes(key), MemoryMarshal.AsBytes(new Span<AgentStepRing>(ref ring)));
            return scheduler.ReadSteps(thread)!;   // BPF_F_LOCK: the map's value has its spin lock
        }
        static AgentStep Step(ulong n) => new()
        {
            Seq = n, EndNs = 1000 * n, TotalNs = 2_000_000, WaitNs = 50_000, RunNs = 1_950_000,
            Cpu = 1, HomeCpu = 1, Migrations = 0, Preemptions = 2, ClassId = (byte)AgentClass.Burst,
            Flags = (byte)(n == 34 ? AgentStepFlags.Home | AgentStepFlags.Demoted : AgentStepFlags.Home),
        };

        TaskSteps young = Write(5, 1);                  // slots 6 to 32 never written
        TaskSteps steps = Write(34, 3);                 // steps 1 and 2 were overwritten by 33 and 34

        Assert.Equal(5UL, young.Steps);
        Assert.Equal([1UL, 2, 3, 4, 5], young.Recent.Select(s => s.Seq));
        Assert.Equal(34UL, steps.Steps);
        Assert.Equal(Enumerable.Range(3, 32).Select(n => (ulong)n), steps.Recent.Select(s => s.Seq));
        TaskStep last = steps.Recent[^1];
        Assert.Equal(new TaskStep(34, 34_000, 2_000_000, 50_000, 1_950_000, 1, 1, 0, 2, AgentClass.Burst, HomeHit: true, Demoted: true), last);
        Assert.False(steps.Recent[0].Demoted);
    }

    [Fact]
    public void UnpinThenDisposeRemovesEveryPinAndDetaches()
    {
        uint linkId = PinTwin();
        var scheduler = AgentClassScheduler.Adopt(_dir.Path);
        scheduler.Pin(_dir.Path);   // already pinned there: nothing changes

        scheduler.Unpin(_dir.Path);

        Assert.False(Directory.Exists(_dir.Path));
        Assert.True(BpfLinkPinTests.LinkExists(linkId));   // our fd still holds it
        scheduler.Dispose();
        Assert.True(BpfLinkPinTests.WaitUntilGone(linkId));
        Assert.False(scheduler.IsAttached);
    }

    [Fact]
    public void DisposeWithoutUnpinLeavesTheSchedulerPinned()
    {
        uint linkId = PinTwin();

        AgentClassScheduler.Adopt(_dir.Path).Dispose();

        Assert.True(BpfLinkPinTests.LinkExists(linkId));
        using var again = AgentClassScheduler.Adopt(_dir.Path);
        Assert.True(again.IsAttached);
        Assert.Throws<InvalidOperationException>(again.Attach);
        Assert.Throws<InvalidOperationException>(() => again.Pin(_dir["elsewhere"]));
    }

    [Fact]
    public void WithoutALinkPinTheAdoptedSchedulerIsNotAttached()
    {
        PinTwin(withLink: false);

        using var scheduler = AgentClassScheduler.Adopt(_dir.Path);

        Assert.False(scheduler.IsAttached);
        Assert.Throws<InvalidOperationException>(() => scheduler.Pin(_dir.Path));
    }

    [Fact]
    public void AdoptRefusesMissingOrForeignMaps()
    {
        _twin.Map(AgentClassScheduler.HintsPin).Pin(_dir[AgentClassScheduler.HintsPin]);
        Assert.Equal(ENOENT, Assert.Throws<BpfException>(() => AgentClassScheduler.Adopt(_dir.Path)).Errno);

        _twin.Map(AgentClassScheduler.StatsPin).Pin(_dir[AgentClassScheduler.StatsPin]);
        _twin.Map(AgentClassScheduler.StatsPin).Pin(_dir[AgentClassScheduler.LatencyPin]);   // wrong shape
        var e = Assert.Throws<InvalidDataException>(() => AgentClassScheduler.Adopt(_dir.Path));
        Assert.Contains(_dir[AgentClassScheduler.LatencyPin], e.Message);
    }

    [Fact]
    public void LoadReusesAHintsMapOfAgentClassesShapeAndRefusesAnother()
    {
        var wrong = Assert.Throws<ArgumentException>(() => AgentClassScheduler.Load(new AgentClassTunables(), null, _twin.Map("stats")));
        Assert.Contains("named 'stats'", wrong.Message);

        if (Directory.Exists("/sys/kernel/sched_ext"))
        {
            using var scheduler = AgentClassScheduler.Load(new AgentClassTunables(), null, _twin.Map("hints"));
            Assert.Equal(_twin.Map("hints").Id, scheduler.Hints.Id);
        }
        else
        {
            // bpf_map__reuse_fd accepted the twin's hints; only the missing sched_ext stops the load.
            var e = Assert.Throws<BpfException>(() => AgentClassScheduler.Load(new AgentClassTunables(), null, _twin.Map("hints")));
            Assert.Equal("bpf_object__load", e.Operation);
            Assert.Contains("sched_ext_ops", e.LibbpfLog);
        }
    }

    private AgentHint LookupHint(ProcessHandle process)
    {
        AgentHint value = default;
        int key = process.Fd;
        Assert.True(_twin.Map("hints").TryLookup(BitConverter.GetBytes(key), MemoryMarshal.AsBytes(new Span<AgentHint>(ref value))));
        return value;
    }
}
