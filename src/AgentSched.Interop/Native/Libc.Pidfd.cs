namespace AgentSched.Interop.Native;

/// <summary>
/// pidfd_open(2) and pidfd_send_signal(2) through syscall(2). Both come from the common syscall
/// table added in Linux 5.1, so their numbers are the same on x86-64 and arm64.
/// </summary>
internal static partial class Libc
{
    private const long SysPidfdSendSignal = 424;
    private const long SysPidfdOpen = 434;

    /// <summary>pidfd_open(pid, flags): a new close-on-exec pidfd, or -1 with errno.</summary>
    internal static int PidfdOpen(int pid, uint flags) => (int)Syscall(SysPidfdOpen, pid, (nint)flags, 0);

    /// <summary>pidfd_send_signal(pidfd, sig, NULL, 0); signal 0 only checks that the process exists.</summary>
    internal static int PidfdSendSignal(SafeHandle pidfd, int signal)
    {
        bool added = false;
        try
        {
            pidfd.DangerousAddRef(ref added);
            return (int)Syscall(SysPidfdSendSignal, pidfd.DangerousGetHandle(), signal, 0, 0);
        }
        finally
        {
            if (added)
            {
                pidfd.DangerousRelease();
            }
        }
    }
}
