using System.Text;
using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Scheduler;

/// <summary>Why agent_class last left the kernel, decoded from its <c>exit_info</c> map (struct agent_exit_info).</summary>
/// <param name="Kind">The kernel's <c>enum scx_exit_kind</c> value (never 0, SCX_EXIT_NONE: that means still attached).</param>
/// <param name="KindName">The enumerator's name, e.g. <c>SCX_EXIT_ERROR_STALL</c>; <c>SCX_EXIT_KIND_&lt;n&gt;</c> for a kind this build does not know.</param>
/// <param name="ExitCode">The exit code given to scx_bpf_exit() or by the kernel (0 for errors).</param>
/// <param name="Reason">The kernel's one-line reason, e.g. "runnable task stall".</param>
/// <param name="Message">The detail message (for SCX_EXIT_ERROR_BPF: what scx_bpf_error() printed).</param>
public sealed record SchedulerExit(int Kind, string KindName, long ExitCode, string Reason, string Message)
{
    /// <summary>Kinds of SCX_EXIT_ERROR (1024) and above are failures; below are orderly unregistrations.</summary>
    public bool IsError => Kind >= 1024;

    /// <summary>
    /// <c>enum scx_exit_kind</c>. Values from the kernel's kernel/sched/ext_internal.h (6.18; earlier
    /// in include/linux/sched/ext.h and kernel/sched/ext.c): NONE 0, DONE 1, UNREG 64 (user space
    /// unregistered), UNREG_BPF 65 (scx_bpf_exit), UNREG_KERN 66, SYSRQ 67 (sysrq-S), ERROR 1024,
    /// ERROR_BPF 1025 (scx_bpf_error), ERROR_STALL 1026 (watchdog); PARENT 68, PARENT_KILL 69,
    /// ERROR_REENQ 1027 and ERROR_RESCUE 1028 appear in the BTF of the 7.3 test kernel.
    /// SchedulerExitTests checks this table against the enum in agent_class.bpf.o's BTF.
    /// </summary>
    internal static IReadOnlyDictionary<int, string> KindNames { get; } = new Dictionary<int, string>
    {
        [0] = "SCX_EXIT_NONE",
        [1] = "SCX_EXIT_DONE",
        [64] = "SCX_EXIT_UNREG",
        [65] = "SCX_EXIT_UNREG_BPF",
        [66] = "SCX_EXIT_UNREG_KERN",
        [67] = "SCX_EXIT_SYSRQ",
        [68] = "SCX_EXIT_PARENT",
        [69] = "SCX_EXIT_PARENT_KILL",
        [1024] = "SCX_EXIT_ERROR",
        [1025] = "SCX_EXIT_ERROR_BPF",
        [1026] = "SCX_EXIT_ERROR_STALL",
        [1027] = "SCX_EXIT_ERROR_REENQ",
        [1028] = "SCX_EXIT_ERROR_RESCUE",
    };

    /// <summary>The name of an scx_exit_kind value.</summary>
    public static string NameOfKind(int kind) => KindNames.TryGetValue(kind, out string? name) ? name : $"SCX_EXIT_KIND_{kind}";

    /// <summary>Decodes the map value; null while the scheduler has not exited (kind 0).</summary>
    internal static unsafe SchedulerExit? From(in AgentExitInfo info)
    {
        if (info.Kind == 0)
        {
            return null;
        }
        fixed (byte* reason = info.Reason)
        fixed (byte* msg = info.Msg)
        {
            return new SchedulerExit(info.Kind, NameOfKind(info.Kind), info.ExitCode,
                CString(new ReadOnlySpan<byte>(reason, AgentExitSizes.ReasonLen)),
                CString(new ReadOnlySpan<byte>(msg, AgentExitSizes.MsgLen)));
        }
    }

    /// <summary>A NUL-terminated UTF-8 string from a fixed buffer (the whole buffer when it has no NUL).</summary>
    private static string CString(ReadOnlySpan<byte> buffer)
    {
        int end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]);
    }
}
