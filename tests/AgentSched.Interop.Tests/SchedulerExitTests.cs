using System.Text;
using AgentSched.Interop;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Interop.Tests;

/// <summary>Decoding agent_class's exit_info, and the exit kind names against the kernel's enum in the object's BTF.</summary>
public sealed class SchedulerExitTests
{
    [Fact]
    public void KindNamesAreTheKernelsEnum()
    {
        using BpfObject obj = BpfObject.OpenEmbedded();
        IReadOnlyDictionary<string, long> btf = obj.Btf.Enum("scx_exit_kind");

        var expected = btf.Select(kv => ((int)kv.Value, kv.Key)).OrderBy(e => e.Item1);
        var actual = SchedulerExit.KindNames.Select(kv => (kv.Key, kv.Value)).OrderBy(e => e.Key);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void KindZeroMeansStillAttached()
    {
        AgentExitInfo info = default;

        Assert.Null(SchedulerExit.From(in info));
    }

    [Fact]
    public void AnExitDecodesItsKindCodeAndStrings()
    {
        AgentExitInfo info = Info(1026, -1, "runnable task stall", "agent_class[123] failed to run for 30.1s");

        SchedulerExit? exit = SchedulerExit.From(in info);

        Assert.Equal(new SchedulerExit(1026, "SCX_EXIT_ERROR_STALL", -1, "runnable task stall", "agent_class[123] failed to run for 30.1s"), exit);
        Assert.True(exit!.IsError);
        Assert.False(SchedulerExit.From(Info(64, 0, "unregistered from user space", ""))!.IsError);
    }

    [Fact]
    public void UnknownKindsAndUnterminatedStringsAreKept()
    {
        AgentExitInfo info = Info(2000, 7, new string('r', AgentExitSizes.ReasonLen), "ü");

        SchedulerExit exit = SchedulerExit.From(in info)!;

        Assert.Equal("SCX_EXIT_KIND_2000", exit.KindName);
        Assert.Equal(AgentExitSizes.ReasonLen, exit.Reason.Length);
        Assert.Equal(("ü", 7L), (exit.Message, exit.ExitCode));
    }

    private static unsafe AgentExitInfo Info(int kind, long code, string reason, string message)
    {
        var info = new AgentExitInfo { Kind = kind, ExitCpu = -1, ExitCode = code };
        Encoding.UTF8.GetBytes(reason).CopyTo(new Span<byte>(info.Reason, AgentExitSizes.ReasonLen));
        Encoding.UTF8.GetBytes(message).CopyTo(new Span<byte>(info.Msg, AgentExitSizes.MsgLen));
        return info;
    }
}
