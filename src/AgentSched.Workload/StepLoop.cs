using System.Diagnostics;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using AgentSched.Client;
using AgentSched.Interop.Kernel;

namespace AgentSched.Workload;

/// <summary>
/// One agent: a chain of dependent steps between two threads over pipes. Each step the agent
/// wakes its tool thread, the tool burns <c>toolUs</c> of CPU and replies, and the agent burns
/// <c>parseUs</c> "parsing" the reply. A step's latency is its wall time; with no competition it
/// is about toolUs + parseUs plus two wakeups.
/// </summary>
internal static partial class StepLoop
{
    /// <summary>
    /// Runs the loop. With <paramref name="threadSteps"/>, the agent runs on a thread of its own and
    /// each of the two threads opens a BURST step for itself alone (step_begin with its tid), so
    /// they are the process's only marked tasks, and notes how often it had blocked by then. <paramref name="beforeStop"/> sees the result
    /// while both threads are still alive (blocked), before the tool is told to stop. A non-zero
    /// <paramref name="sliceNs"/> asks the kernel for that time slice for both threads
    /// (sched_setattr's sched_runtime on a fair-class task: Linux 6.12+), as a runtime could instead
    /// of marking them. <paramref name="beforeStart"/> runs on the agent thread once both threads
    /// are set up, just before the first step (and the duration) starts.
    /// </summary>
    public static StepResult Run(int steps, TimeSpan duration, int toolUs, int parseUs,
        AgentSchedClient? threadSteps = null, Action<StepResult>? beforeStop = null, ulong sliceNs = 0, Action? beforeStart = null)
    {
        using var toTool = new AnonymousPipeServerStream(PipeDirection.Out);
        using var fromAgent = new AnonymousPipeClientStream(PipeDirection.In, toTool.ClientSafePipeHandle);
        using var toAgent = new AnonymousPipeServerStream(PipeDirection.Out);
        using var fromTool = new AnonymousPipeClientStream(PipeDirection.In, toAgent.ClientSafePipeHandle);
        int toolTid = 0;
        long toolBlocked = 0;
        using var toolReady = new ManualResetEventSlim();

        var tool = new Thread(() =>
        {
            toolTid = GetTid();
            SetSlice(toolTid, sliceNs);
            using StepScope? step = threadSteps?.BeginStep(TimeSpan.FromHours(1), currentThreadOnly: true);
            toolBlocked = threadSteps is null ? 0 : ThreadCpu.VoluntarySwitches();
            toolReady.Set();
            var b = new byte[1];
            while (fromAgent.Read(b, 0, 1) == 1 && b[0] == 1)
            {
                ThreadCpu.Burn(toolUs * 1000L);
                toAgent.Write(b, 0, 1);
            }
        }) { Name = "tool", IsBackground = true };
        tool.Start();
        toolReady.Wait();

        StepResult? result = null;
        Exception? failure = null;
        void Agent()
        {
            try
            {
                int agentTid = GetTid();
                SetSlice(agentTid, sliceNs);
                using StepScope? step = threadSteps?.BeginStep(TimeSpan.FromHours(1), currentThreadOnly: true);
                long agentBlocked = threadSteps is null ? 0 : ThreadCpu.VoluntarySwitches();
                var latencies = new List<double>(Math.Min(steps, 1 << 20));
                var buffer = new byte[] { 1 };
                beforeStart?.Invoke();
                (long Exec, long Delay, long Runs)? waits0 = Schedstat(agentTid, toolTid);
                var total = Stopwatch.StartNew();
                while (latencies.Count < steps && total.Elapsed < duration)
                {
                    long start = Stopwatch.GetTimestamp();
                    toTool.Write(buffer, 0, 1);
                    if (fromTool.Read(buffer, 0, 1) != 1)
                    {
                        throw new IOException("the tool thread closed its pipe");
                    }
                    ThreadCpu.Burn(parseUs * 1000L);
                    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                }
                total.Stop();
                (long Exec, long Delay, long Runs)? waits1 = Schedstat(agentTid, toolTid);
                result = StepResult.From(latencies, total.Elapsed, toolUs + parseUs) with
                {
                    WaitUsPerRun = waits0 is { } a && waits1 is { } b && b.Runs > a.Runs ? (b.Delay - a.Delay) / 1000.0 / (b.Runs - a.Runs) : -1,
                    CpuSeconds = waits0 is { } c && waits1 is { } d ? (d.Exec - c.Exec) / 1e9 : -1,
                    AgentTid = agentTid, ToolTid = toolTid, AgentBlockedAtStart = agentBlocked, ToolBlockedAtStart = toolBlocked,
                };
                beforeStop?.Invoke(result);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }
        if (threadSteps is null)
        {
            Agent();
        }
        else
        {
            var agent = new Thread(Agent) { Name = "agent" };
            agent.Start();
            agent.Join();
        }
        toTool.Write([0], 0, 1);
        tool.Join();
        if (failure is not null)
        {
            throw new IOException($"the agent loop failed: {failure.Message}", failure);
        }
        return result!;
    }

    private static void SetSlice(int tid, ulong sliceNs)
    {
        if (sliceNs > 0)
        {
            TaskScheduling.Set(tid, TaskScheduling.Get(tid) with { RuntimeNs = sliceNs, Flags = 0 });
        }
    }

    /// <summary>
    /// The summed CPU time (ns), run_delay (ns spent runnable but waiting) and timeslice count of
    /// the given threads of this process, from /proc/self/task/&lt;tid&gt;/schedstat; null when a
    /// file is missing (a kernel without CONFIG_SCHED_INFO).
    /// </summary>
    internal static (long Exec, long Delay, long Runs)? Schedstat(params int[] tids)
    {
        long exec = 0, delay = 0, runs = 0;
        foreach (int tid in tids)
        {
            string text;
            try
            {
                text = File.ReadAllText($"/proc/self/task/{tid}/schedstat");
            }
            catch (IOException)
            {
                return null;
            }
            string[] f = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3)
            {
                return null;
            }
            exec += long.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture);
            delay += long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
            runs += long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        return (exec, delay, runs);
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();
}
