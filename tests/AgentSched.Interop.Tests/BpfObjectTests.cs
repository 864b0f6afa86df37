using AgentSched.Interop;

namespace AgentSched.Interop.Tests;

/// <summary>libbpf through the interop layer, on the host kernel (BPF works here; sched_ext does not).</summary>
public sealed class BpfObjectTests
{
    private const int EACCES = 13;

    [Fact]
    public void RodataWritesLandAtTheVariablesBtfOffsets()
    {
        using BpfObject obj = BpfObject.OpenEmbedded();
        uint multBefore = obj.GetRodata<uint>("batch_slice_mult");

        obj.SetRodata("slice_ns", 1_234_567UL);

        Assert.Equal(1_234_567UL, obj.GetRodata<ulong>("slice_ns"));
        Assert.Equal(multBefore, obj.GetRodata<uint>("batch_slice_mult"));
        Assert.Equal((uint)Abi.AgentAbi.Version, obj.GetRodata<uint>("abi_version"));
    }

    [Fact]
    public void RodataRejectsWrongSizesAndUnknownNames()
    {
        using BpfObject obj = BpfObject.OpenEmbedded();

        var wrongSize = Assert.Throws<ArgumentException>(() => obj.SetRodata("slice_ns", 5u));
        Assert.Contains("is 8 bytes, not 4", wrongSize.Message);
        Assert.Throws<KeyNotFoundException>(() => obj.SetRodata("no_such_tunable", 1UL));
    }

    [Fact]
    public void StructOpsFlagsAreSetAtTheirBtfOffsetFromTheKernelsOwnEnum()
    {
        using BpfObject obj = BpfObject.OpenEmbedded();
        long partial = obj.Btf.Enum("scx_ops_flags")["SCX_OPS_SWITCH_PARTIAL"];

        obj.SetStructOpsField("agent_class_ops", "sched_ext_ops", "flags", (ulong)partial);

        Assert.True(partial > 0);
        Assert.Throws<ArgumentException>(() => obj.SetStructOpsField("agent_class_ops", "sched_ext_ops", "flags", 1u));
        Assert.Throws<ArgumentException>(() => obj.SetStructOpsField("agent_class_ops", "sched_ext_ops", "no_such_field", 1UL));
    }

    [Fact]
    public void LoadWithoutSchedExtFailsNamingTheCallAndCarryingLibbpfsLog()
    {
        Assert.False(Directory.Exists("/sys/kernel/sched_ext"), "this test expects a host kernel without sched_ext");
        using BpfObject obj = BpfObject.OpenEmbedded();

        var e = Assert.Throws<BpfException>(obj.Load);

        Assert.Equal("bpf_object__load", e.Operation);
        Assert.StartsWith("bpf_object__load failed: ", e.Message);
        Assert.Contains("sched_ext_ops", e.LibbpfLog);
    }

    [Fact]
    public void VerifierRejectionCarriesTheVerifiersMessage()
    {
        using BpfObject obj = BpfObject.OpenEmbedded(typeof(BpfObjectTests).Assembly, "verifier_reject.bpf.o");

        var e = Assert.Throws<BpfException>(obj.Load);

        Assert.Equal(EACCES, e.Errno);
        Assert.Contains("EACCES", e.Message);
        Assert.Contains("map_value_or_null", e.Message);
    }

    [Fact]
    public void MapsNeedALoadedObject()
    {
        using BpfObject obj = BpfObject.OpenEmbedded();

        Assert.Throws<ArgumentException>(() => obj.Map("no_such_map"));
        Assert.Throws<InvalidOperationException>(() => obj.Map("stats").TryLookup(new byte[4], new byte[64]));
        Assert.Throws<InvalidOperationException>(() => obj.AttachStructOps("agent_class_ops"));
    }
}
