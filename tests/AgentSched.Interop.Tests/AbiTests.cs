using System.Reflection;
using System.Runtime.InteropServices;
using AgentSched.Interop;
using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Tests;

/// <summary>
/// The C# twin of bpf/intf.h must match the BTF of the object the build produced: same
/// enumerators with the same values, same struct sizes and member offsets.
/// </summary>
public sealed class AbiTests : IDisposable
{
    private readonly BpfObject _obj = BpfObject.OpenEmbedded();

    public void Dispose() => _obj.Dispose();

    [Theory]
    [InlineData("agent_class_id", "AGENT_CLASS_", typeof(AgentClass), "AGENT_NR_CLASSES")]
    [InlineData("agent_dsq_id", "AGENT_DSQ_", typeof(AgentDsq), null)]
    [InlineData("agent_stat_idx", "AGENT_STAT_", typeof(AgentStat), "AGENT_NR_STATS")]
    [InlineData("agent_step_time", "AGENT_STEP_", typeof(AgentStepTime), "AGENT_STEP_NR_TIMES")]
    [InlineData("agent_step_flags", "AGENT_STEP_F_", typeof(AgentStepFlags), null)]
    [InlineData("agent_hint_flags", "AGENT_HINT_F_", typeof(AgentHintFlags), null)]
    [InlineData("agent_self_step", "AGENT_", typeof(AgentSelfStep), null)]
    public void EnumMatchesBtf(string btfEnum, string prefix, Type csharpEnum, string? countName)
    {
        IReadOnlyDictionary<string, long> btf = _obj.Btf.Enum(btfEnum);
        var expected = btf.Where(kv => kv.Key != countName)
            .ToDictionary(kv => Pascal(kv.Key[prefix.Length..]), kv => kv.Value);
        var actual = Enum.GetNames(csharpEnum)
            .ToDictionary(n => n, n => Convert.ToInt64(Enum.Parse(csharpEnum, n)));
        Assert.Equal(expected.OrderBy(kv => kv.Key), actual.OrderBy(kv => kv.Key));
        if (countName is not null)
        {
            Assert.Equal(btf[countName], actual.Count);
        }
    }

    [Fact]
    public void ConstantsMatchBtf()
    {
        Assert.Equal(AgentAbi.Version, _obj.Btf.Enum("agent_abi")["AGENT_ABI_VERSION"]);
        Assert.Equal(AgentAbi.NrClasses, _obj.Btf.Enum("agent_class_id")["AGENT_NR_CLASSES"]);
        IReadOnlyDictionary<string, long> sizes = _obj.Btf.Enum("agent_exit_sizes");
        Assert.Equal(AgentExitSizes.ReasonLen, sizes["AGENT_EXIT_REASON_LEN"]);
        Assert.Equal(AgentExitSizes.MsgLen, sizes["AGENT_EXIT_MSG_LEN"]);
        Assert.Equal(AgentLimits.MaxCpus, _obj.Btf.Enum("agent_limits")["AGENT_MAX_CPUS"]);
        Assert.Equal(AgentLatencySizes.Buckets, _obj.Btf.Enum("agent_latency_sizes")["AGENT_LAT_BUCKETS"]);
        Assert.Equal(AgentStepSizes.RingLen, _obj.Btf.Enum("agent_step_sizes")["AGENT_STEP_RING_LEN"]);
        Assert.Equal(AgentStepStats.Times, _obj.Btf.Enum("agent_step_time")["AGENT_STEP_NR_TIMES"]);
        Assert.Equal(AgentAbi.Version, (int)_obj.GetRodata<uint>("abi_version"));
    }

    /// <summary>The tunables' defaults have one owner, the BPF object; the C# record (and the daemon's options, which take it) must say the same.</summary>
    [Fact]
    public void TunableDefaultsMatchTheObjectsRodata()
    {
        var t = new AgentSched.Interop.Scheduler.AgentClassTunables();
        Assert.Equal((ulong)t.SliceUs * 1000, _obj.GetRodata<ulong>("slice_ns"));
        Assert.Equal((uint)t.BatchSliceMultiplier, _obj.GetRodata<uint>("batch_slice_mult"));
        Assert.Equal((ulong)t.StepBudgetUs * 1000, _obj.GetRodata<ulong>("step_budget_ns"));
        Assert.Equal((ulong)t.CreditPeriodMs * 1_000_000, _obj.GetRodata<ulong>("credit_period_ns"));
        Assert.Equal((uint)t.CreditSharePercent, _obj.GetRodata<uint>("credit_share_pct"));
        Assert.Equal((ulong)t.StarveMs * 1_000_000, _obj.GetRodata<ulong>("starve_ns"));
        Assert.Equal((ulong)t.AntiMigrationUs * 1000, _obj.GetRodata<ulong>("antimig_ns"));
        Assert.Equal(t.TraceSteps ? (byte)1 : (byte)0, _obj.GetRodata<byte>("trace_steps"));
    }

    [Theory]
    [InlineData("agent_hint", typeof(AgentHint))]
    [InlineData("agent_exit_info", typeof(AgentExitInfo))]
    [InlineData("agent_latency", typeof(AgentLatency))]
    [InlineData("agent_step_stats", typeof(AgentStepStats))]
    [InlineData("agent_step", typeof(AgentStep))]
    [InlineData("agent_step_ring", typeof(AgentStepRing))]
    public void StructMatchesBtf(string btfStruct, Type csharpStruct)
    {
        (int size, IReadOnlyList<BtfMember> members) = _obj.Btf.Struct(btfStruct);
        Assert.Equal(size, Marshal.SizeOf(csharpStruct));
        var expected = members.Select(m => (Pascal(m.Name), m.Offset, m.Size)).ToList();
        var actual = csharpStruct.GetFields(BindingFlags.Public | BindingFlags.Instance)
            .Select(f => (f.Name, (int)Marshal.OffsetOf(csharpStruct, f.Name), Marshal.SizeOf(f.FieldType)))
            .OrderBy(f => f.Item2)
            .ToList();
        Assert.Equal(expected, actual);
    }

    /// <summary>DISPATCH_BURST or class_id to DispatchBurst or ClassId.</summary>
    private static string Pascal(string snake) =>
        string.Concat(snake.Split('_', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant()));
}
