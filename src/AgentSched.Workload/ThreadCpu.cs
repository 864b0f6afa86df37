namespace AgentSched.Workload;

/// <summary>Burns an exact amount of the calling thread's CPU time, however often it is preempted.</summary>
internal static unsafe partial class ThreadCpu
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, Timespec* ts);

    /// <summary>The calling thread's consumed CPU time, in nanoseconds.</summary>
    public static long NowNs()
    {
        Timespec ts;
        ClockGetTime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }

    /// <summary>Spins until this thread has run for <paramref name="ns"/> more nanoseconds of CPU.</summary>
    public static void Burn(long ns)
    {
        long end = NowNs() + ns;
        ulong x = 1;
        while (NowNs() < end)
        {
            for (int i = 0; i < 200; i++)
            {
                x = x * 6364136223846793005UL + 1442695040888963407UL;
            }
        }
        GC.KeepAlive(x);
    }
}
