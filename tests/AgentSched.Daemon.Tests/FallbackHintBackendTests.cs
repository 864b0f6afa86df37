using System.Diagnostics;
using AgentSched.Daemon.Marks;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>
/// The fallback backend on a real child process (root: nice -10 needs CAP_SYS_NICE). A Python
/// child starts one thread per line it reads, from its main thread, so a thread can be created
/// while the process is marked: it inherits the marked nice and policy from its creator, as
/// a runtime's thread pool does during a step.
/// </summary>
public sealed class FallbackHintBackendTests
{
    private const string Script =
        "import sys, threading, time\n" +
        "for line in sys.stdin:\n" +
        "    threading.Thread(target=lambda: (print(threading.get_native_id(), flush=True), time.sleep(600)), daemon=True).start()\n";

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(TaskClass.Burst)]
    [InlineData(TaskClass.Batch)]
    public async Task ThreadsCreatedWhileMarkedArePutBackWhenTheMarkEnds(TaskClass c)
    {
        using Process child = StartChild();
        try
        {
            ProcessHandle handle = ProcessHandle.Open(child.Id);
            using var entry = new MarkEntry(handle, handle.ReadInfo(), isThread: false, requesterUid: 0);
            var backend = new FallbackHintBackend();
            var hint = new EffectiveHint(c, null, null, null);
            (int Nice, int Policy) unmarked = ProcStat.Sched(child.Id);
            SchedAttr marked = FallbackHintBackend.Target(TaskScheduling.Get(child.Id), c)!.Value;

            backend.Apply(entry, hint);
            int seenByApply = await NewThread(child);
            Assert.NotEqual(unmarked, Sched(child.Id, seenByApply));
            Assert.Equal((marked.Nice, (int)marked.Policy), Sched(child.Id, seenByApply)); // inherited from the marked main thread
            backend.Apply(entry, hint);                                 // the mark renewed: this Apply sees it
            int afterApply = await NewThread(child);                    // one no Apply has seen

            backend.Remove(entry);

            Assert.Equal(
                [unmarked, unmarked, unmarked],
                new[] { child.Id, seenByApply, afterApply }.Select(tid => Sched(child.Id, tid)).ToArray());
        }
        finally
        {
            child.Kill();
            await child.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task AThreadThatChangedItsOwnSettingsIsLeftAlone()
    {
        using Process child = StartChild();
        try
        {
            ProcessHandle handle = ProcessHandle.Open(child.Id);
            using var entry = new MarkEntry(handle, handle.ReadInfo(), isThread: false, requesterUid: 0);
            var backend = new FallbackHintBackend();
            (int Nice, int Policy) unmarked = ProcStat.Sched(child.Id);
            backend.Apply(entry, new EffectiveHint(TaskClass.Burst, null, null, null));
            int tid = await NewThread(child);
            // What a BATCH mark would give, not what this BURST mark gave: the thread's own choice.
            TaskScheduling.Set(tid, TaskScheduling.Get(tid) with { Policy = SchedPolicy.Batch, Nice = 10, RuntimeNs = 0 });

            backend.Remove(entry);

            Assert.Equal((10, (int)SchedPolicy.Batch), Sched(child.Id, tid));
            Assert.Equal(unmarked, Sched(child.Id, child.Id));
        }
        finally
        {
            child.Kill();
            await child.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    private static Process StartChild() => Process.Start(new ProcessStartInfo("python3", ["-c", Script])
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        UseShellExecute = false,
    })!;

    private static (int Nice, int Policy) Sched(int pid, int tid) => ProcStat.SchedAt($"/proc/{pid}/task/{tid}/stat");

    /// <summary>Has the child's main thread start a thread; returns its tid.</summary>
    private static async Task<int> NewThread(Process child)
    {
        await child.StandardInput.WriteLineAsync("go".AsMemory(), TestContext.Current.CancellationToken);
        await child.StandardInput.FlushAsync();
        string? line = await child.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(s_timeout, TestContext.Current.CancellationToken);
        return int.Parse(line ?? throw new InvalidOperationException("the child exited"));
    }
}
