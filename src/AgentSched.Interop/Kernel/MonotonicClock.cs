using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>CLOCK_MONOTONIC, the clock agent_class compares step-window ends with (bpf_ktime_get_ns).</summary>
public static unsafe class MonotonicClock
{
    public static ulong NowNs()
    {
        Libc.Timespec ts;
        Libc.ClockGetTime(Libc.CLOCK_MONOTONIC, &ts);
        return (ulong)ts.Sec * 1_000_000_000UL + (ulong)ts.Nsec;
    }

    /// <summary>The window end <paramref name="window"/> from now, as a hint's window_end_ns.</summary>
    public static ulong After(TimeSpan window) => NowNs() + (ulong)window.Ticks * 100;
}
