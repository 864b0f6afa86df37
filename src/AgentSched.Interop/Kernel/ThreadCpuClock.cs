using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>CLOCK_THREAD_CPUTIME_ID: the CPU time the calling thread has consumed.</summary>
public static unsafe class ThreadCpuClock
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;

    public static long NowNs()
    {
        Libc.Timespec ts;
        Libc.ClockGetTime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }
}
