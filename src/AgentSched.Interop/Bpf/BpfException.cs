using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>
/// A libbpf or bpf(2) call failed. The message names the call and the errno; <see cref="LibbpfLog"/>
/// holds the tail of what libbpf printed up to the failure (for a rejected program, the verifier's log).
/// </summary>
public sealed class BpfException : Exception
{
    public BpfException(string operation, int errno, string libbpfLog = "")
        : base(Describe(operation, errno, libbpfLog))
    {
        Operation = operation;
        Errno = errno;
        LibbpfLog = libbpfLog;
    }

    /// <summary>The libbpf function that failed, e.g. <c>bpf_object__load</c>.</summary>
    public string Operation { get; }

    /// <summary>The positive errno the call reported.</summary>
    public int Errno { get; }

    /// <summary>The last lines libbpf printed before the failure; empty when it printed nothing.</summary>
    public string LibbpfLog { get; }

    internal static BpfException Create(string operation, int errno) =>
        new(operation, errno, Native.LibbpfLog.Tail(40));

    private static string Describe(string operation, int errno, string log)
    {
        string message = $"{operation} failed: {ErrnoNames.Describe(errno)}";
        return log.Length == 0 ? message : $"{message}\nlibbpf log (last lines):\n{log}";
    }
}
