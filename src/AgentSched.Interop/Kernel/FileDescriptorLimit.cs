using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>The process's RLIMIT_NOFILE: how many file descriptors it may hold open at once.</summary>
public static unsafe class FileDescriptorLimit
{
    /// <summary>The soft (enforced) and hard (ceiling) limits.</summary>
    /// <exception cref="SyscallException">getrlimit failed.</exception>
    public static (ulong Soft, ulong Hard) Get()
    {
        Libc.RLimit limit;
        if (Libc.GetRLimit(Libc.RLIMIT_NOFILE, &limit) < 0)
        {
            throw SyscallException.FromLastError("getrlimit(RLIMIT_NOFILE)");
        }
        return (limit.Current, limit.Max);
    }

    /// <summary>
    /// Raises the soft limit to the hard one, as a daemon that holds a descriptor per client and per
    /// task should (the soft default, 1024, exists for select(2), which .NET does not use). Returns the
    /// soft limit in force afterwards.
    /// </summary>
    /// <exception cref="SyscallException">getrlimit or setrlimit failed.</exception>
    public static ulong RaiseToHard()
    {
        (ulong soft, ulong hard) = Get();
        if (soft >= hard)
        {
            return soft;
        }
        var limit = new Libc.RLimit { Current = hard, Max = hard };
        if (Libc.SetRLimit(Libc.RLIMIT_NOFILE, &limit) < 0)
        {
            throw SyscallException.FromLastError("setrlimit(RLIMIT_NOFILE)");
        }
        return hard;
    }
}
