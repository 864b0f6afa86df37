using AgentSched.Interop.Kernel;

namespace AgentSched.Workload;

/// <summary>Burns an exact amount of the calling thread's CPU time, however often it is preempted.</summary>
internal static class ThreadCpu
{
    /// <summary>Spins until this thread has run for <paramref name="ns"/> more nanoseconds of CPU.</summary>
    public static void Burn(long ns)
    {
        long end = ThreadCpuClock.NowNs() + ns;
        ulong x = 1;
        while (ThreadCpuClock.NowNs() < end)
        {
            for (int i = 0; i < 200; i++)
            {
                x = x * 6364136223846793005UL + 1442695040888963407UL;
            }
        }
        GC.KeepAlive(x);
    }
}
