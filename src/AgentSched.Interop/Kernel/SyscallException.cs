using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>
/// A system call (or a /proc read standing in for one) failed with an errno. The message names the
/// call with its main argument and the errno: <c>sched_setattr(1234) failed: ESRCH (errno 3): No such process</c>.
/// </summary>
public sealed class SyscallException : IOException
{
    /// <summary>Creates the exception for <paramref name="operation"/> failing with <paramref name="errno"/>.</summary>
    /// <param name="operation">The call and its main argument, e.g. <c>sched_setattr(1234)</c>.</param>
    /// <param name="errno">The positive errno the call reported.</param>
    public SyscallException(string operation, int errno)
        : base($"{operation} failed: {ErrnoNames.Describe(errno)}")
    {
        Operation = operation;
        Errno = errno;
    }

    /// <summary>The call that failed with its main argument, e.g. <c>pidfd_open(1234)</c>.</summary>
    public string Operation { get; }

    /// <summary>The positive errno the call reported.</summary>
    public int Errno { get; }

    /// <summary>The errno's symbolic name, e.g. <c>ESRCH</c> (<c>errno N</c> for one without a known name).</summary>
    public string ErrnoName => ErrnoNames.Name(Errno);

    /// <summary>The exception for the errno the last P/Invoke with <c>SetLastError</c> left behind.</summary>
    internal static SyscallException FromLastError(string operation) => new(operation, Marshal.GetLastPInvokeError());
}
