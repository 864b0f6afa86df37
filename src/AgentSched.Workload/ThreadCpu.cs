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

    /// <summary>
    /// How often the calling thread has blocked so far: the kernel's voluntary_ctxt_switches for
    /// it (/proc/thread-self/status), a count kept apart from anything a scheduler records.
    /// </summary>
    public static long VoluntarySwitches()
    {
        foreach (string line in File.ReadLines("/proc/thread-self/status"))
        {
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan("voluntary_ctxt_switches:".Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidDataException("/proc/thread-self/status has no voluntary_ctxt_switches line");
    }
}
