using Microsoft.Win32.SafeHandles;

namespace AgentSched.Workload;

/// <summary>
/// The start barrier behind <c>--ready-file</c>/<c>--go-file</c>: a process creates the ready file
/// once it is set up, then opens the go file for reading. The harness makes the go file a FIFO
/// (mkfifo) and opens it for writing to say go: until then open(2) blocks, so waiting costs no
/// wakeups (32 agents polling a file every few ms are thousands of wakeups a second on the CPUs
/// the harness is starting the rest on), and every waiter is released at once. A go file that is
/// a regular file opens at once: the barrier is already open. A missing one is an error. Shared by
/// several threads of one process (<c>parties</c>), the ready file is created by the last of them
/// to arrive: the process is ready once all of them are.
/// </summary>
static class StartBarrier
{
    /// <summary>The barrier as an action each of <paramref name="parties"/> threads calls once, or null when there is none (<paramref name="ready"/> null).</summary>
    public static Action? Of(string? ready, string? go, int parties = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parties, 1);
        if (ready is null || go is null) return null;
        int arrived = 0;
        return () =>
        {
            if (Interlocked.Increment(ref arrived) == parties) File.WriteAllText(ready, "");
            WaitForGo(go);
        };
    }

    private static void WaitForGo(string go)
    {
        if (!File.Exists(go))
        {
            throw new FileNotFoundException($"the go file {go} does not exist (the harness makes it with mkfifo before it starts the process)", go);
        }

        // FileShare.ReadWrite: no flock on the FIFO; the open returns once a writer has it open.
        using SafeFileHandle fifo = File.OpenHandle(go, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
    }
}
