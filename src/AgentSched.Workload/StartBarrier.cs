namespace AgentSched.Workload;

/// <summary>
/// The start barrier behind <c>--ready-file</c>/<c>--go-file</c>: a process creates the ready file
/// once it is set up, then waits until the harness creates the go file. It polls, so the poll
/// interval is what the waiting costs: 32 agents polling every 2 ms are 16,000 wakeups a second on
/// the CPUs the harness is starting the background on.
/// </summary>
static class StartBarrier
{
    /// <summary>The barrier as an action, or null when there is none (<paramref name="ready"/> null).</summary>
    public static Action? Of(string? ready, string? go, TimeSpan poll) => ready is null || go is null ? null : () =>
    {
        File.WriteAllText(ready, "");
        while (!File.Exists(go))
        {
            Thread.Sleep(poll);
        }
    };
}
