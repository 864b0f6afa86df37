using System.Diagnostics;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

internal static class SchedExtWait
{
    /// <summary>Polls sched_ext until <paramref name="condition"/> holds; returns how long it took from the daemon's start.</summary>
    public static async Task<TimeSpan> WaitForSchedExtAsync(this DaemonProcess daemon, Func<SchedExtStatus, bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        await WaitForSchedExtAsync(condition, timeout, what, () => daemon.Output);
        return clock.Elapsed;
    }

    /// <summary>Polls sched_ext until <paramref name="condition"/> holds; returns how long it took.</summary>
    public static async Task<TimeSpan> WaitForSchedExtAsync(Func<SchedExtStatus, bool> condition, TimeSpan timeout, string what, Func<string>? context = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition(SchedExtStatus.Read()))
            {
                return clock.Elapsed;
            }
            await Task.Delay(100);
        }
        SchedExtStatus last = SchedExtStatus.Read();
        throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:F1} s (state {last.State}, ops {last.Ops ?? "none"})"
            + (context is null ? "" : $"; daemon output:\n{context()}"));
    }
}
