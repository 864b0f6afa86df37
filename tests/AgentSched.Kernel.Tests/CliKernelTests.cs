using System.Text.Json;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// The agentsched CLI on the real kernel: <c>run</c> classifies its command before the command's
/// first instruction, which the kernel (/proc/PID/sched) and the scheduler's own counters show;
/// <c>top</c> reports those counters; <c>trace</c> prints the steps the scheduler recorded.
/// </summary>
public sealed class CliKernelTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);

    private const int Wakeups = 50;

    /// <summary>
    /// The command's first act prints whether it is on sched_ext; then it sleeps 5 ms <see cref="Wakeups"/>
    /// times, and every wakeup is an enqueue the scheduler counts in the class it gives the task.
    /// </summary>
    private static readonly string[] s_command =
        ["sh", "-c", $"grep '^ext.enabled' /proc/$$/sched; i=0; while [ $i -lt {Wakeups} ]; do sleep 0.005; i=$((i + 1)); done"];

    private static async Task<DaemonProcess> StartAsync(params string[] args)
    {
        DaemonProcess d = DaemonProcess.Start(null, args);
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("sched_ext", (await CallAsync(d, """{"v":1,"op":"status"}""")).GetProperty("mode").GetString());
        return d;
    }

    private static Task<JsonElement> CallAsync(DaemonProcess d, string line) => ApiConnection.CallOnceAsync(d.SocketPath, line);

    private static async Task<(ulong Burst, ulong Normal, ulong Batch, ulong Demotions)> DispatchesAsync(DaemonProcess d)
    {
        JsonElement s = (await CallAsync(d, """{"v":1,"op":"stats"}""")).GetProperty("scheduler");
        return (s.GetProperty("dispatch_burst").GetUInt64(), s.GetProperty("dispatch_normal").GetUInt64(), s.GetProperty("dispatch_batch").GetUInt64(),
            s.GetProperty("demote_step").GetUInt64() + s.GetProperty("demote_period").GetUInt64());
    }

    [Fact]
    public async Task InPartialModeRunPutsTheCommandOnSchedExtAsBurstBeforeItsFirstInstruction()
    {
        // Partial mode: only tasks the daemon switched to SCHED_EXT run under agent_class, so every
        // dispatch the scheduler counts is the command's (or its children's), and "ext.enabled : 1"
        // as the command's first output means the switch happened before it started.
        using DaemonProcess d = await StartAsync("--Scheduler:Partial=true");
        var before = await DispatchesAsync(d);

        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", d.SocketPath, "run", "--class", "burst", "--", .. s_command], s_timeout);
        var after = await DispatchesAsync(d);

        Assert.Equal((0, ""), (r.ExitCode, r.Stderr));
        Assert.Matches(@"^ext\.enabled\s*:\s*1\n$", r.Stdout);
        Assert.True(after.Burst - before.Burst >= Wakeups, $"BURST dispatches went {before.Burst} -> {after.Burst}, fewer than the {Wakeups} wakeups");
        // Nothing is BATCH. NORMAL dispatches come only from the BURST budgets: under TCG a fork and
        // exec of `sleep` can run past the 8 ms step budget, and the task is NORMAL until it blocks.
        Assert.Equal(0UL, after.Batch - before.Batch);
        Assert.True(after.Normal == before.Normal || after.Demotions > before.Demotions,
            $"{after.Normal - before.Normal} NORMAL dispatches without a BURST demotion");
    }

    [Fact]
    public async Task InFullModeRunsWakeupsAreBurstAndTopReportsThem()
    {
        using DaemonProcess d = await StartAsync();
        var before = await DispatchesAsync(d);

        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", d.SocketPath, "run", "--class", "burst", "--", .. s_command], s_timeout);
        ProcessResult top = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", d.SocketPath, "top", "--once", "--json", "--interval", "500ms"], s_timeout);

        // (In full mode every task is on sched_ext, so ext.enabled says nothing here; the partial-mode test covers it.)
        Assert.Equal(0, r.ExitCode);
        Assert.Equal((0, ""), (top.ExitCode, top.Stderr));
        using JsonDocument doc = JsonDocument.Parse(top.Stdout);
        Assert.Equal("sched_ext", doc.RootElement.GetProperty("mode").GetString());
        JsonElement burst = doc.RootElement.GetProperty("classes").GetProperty("burst").GetProperty("dispatches");
        // Nothing else on this VM is marked: the BURST dispatches since `before` are the command's.
        Assert.True(burst.GetProperty("total").GetUInt64() - before.Burst >= Wakeups, $"top reports {burst} BURST dispatches; {before.Burst} before the command ran");
    }

    [Fact]
    public async Task TracePrintsEachStepOfARunningAgentLoop()
    {
        using DaemonProcess d = await StartAsync();
        using var loop = System.Diagnostics.Process.Start(ProcessRunner.StartInfo(RepoPaths.Cli, "--socket", d.SocketPath, "run", "--class", "burst", "--",
            RepoPaths.Workload, "steps", "--seconds", "60", "--tool-us", "2000", "--parse-us", "200"))!;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);   // past the runtime's start-up
            ProcessResult trace = await ProcessRunner.RunAsync(RepoPaths.Cli,
                ["--socket", d.SocketPath, "trace", "--pid", loop.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--steps", "60", "--json", "--interval", "50ms"], s_timeout);

            Assert.True(trace.ExitCode == 0, $"exit {trace.ExitCode}: {trace.Stderr}");
            JsonElement[] lines = [.. trace.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
            JsonElement[] steps = [.. lines.Where(l => l.GetProperty("type").GetString() == "step")];
            // 60 steps: a poll that takes long under TCG may return one thread's steps ahead of the other's.
            Assert.Equal(60, steps.Length);
            var tids = Directory.GetDirectories($"/proc/{loop.Id}/task").Select(p => int.Parse(Path.GetFileName(p), System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
            foreach (JsonElement s in steps)
            {
                ulong total = s.GetProperty("total_ns").GetUInt64(), wait = s.GetProperty("wait_ns").GetUInt64(), run = s.GetProperty("run_ns").GetUInt64();
                Assert.True(tids.Contains(s.GetProperty("tid").GetInt32()), $"{s} is not a thread of the loop ({string.Join(",", tids)})");
                Assert.True(run > 0 && wait + run <= total + 1000 && total < 10_000_000_000, $"implausible step {s}");
                Assert.Contains(s.GetProperty("class").GetString(), new[] { "burst", "normal" });
                Assert.InRange(s.GetProperty("cpu").GetInt32(), 0, Environment.ProcessorCount - 1);
            }
            // Per thread the steps come in order, each seq after the last (a gap line covers any skip).
            foreach (var thread in lines.GroupBy(l => l.GetProperty("tid").GetInt32()))
            {
                long last = 0;
                foreach (JsonElement l in thread)
                {
                    long first = l.GetProperty("type").GetString() == "gap" ? l.GetProperty("first_seq").GetInt64() : l.GetProperty("seq").GetInt64();
                    Assert.True(last == 0 || first == last + 1, $"tid {thread.Key}: {first} after {last}: {trace.Stdout}");
                    last = l.GetProperty("type").GetString() == "gap" ? l.GetProperty("last_seq").GetInt64() : first;
                }
            }
            // The tool thread's steps are its 2 ms of CPU: some step ran at least that long.
            Assert.True(steps.Any(s => s.GetProperty("run_ns").GetUInt64() >= 1_900_000),
                $"no step ran 2 ms; steps per tid: {string.Join(", ", steps.GroupBy(s => s.GetProperty("tid").GetInt32()).Select(g => $"{g.Key}={g.Count()}"))}");
        }
        finally
        {
            if (!loop.HasExited) loop.Kill();
        }
    }

    [Fact]
    public async Task TopCountsRunnableTasksPerClass()
    {
        using DaemonProcess d = await StartAsync();
        var spinners = new List<System.Diagnostics.Process>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                spinners.Add(System.Diagnostics.Process.Start(ProcessRunner.StartInfo(
                    RepoPaths.Cli, "--socket", d.SocketPath, "run", "--class", "batch", "--", "sh", "-c", "while :; do :; done"))!);
            }
            // Under TCG three BATCH processes can take a while to get going (each waits behind the
            // NORMAL work that starts them), and until `agentsched run` has exec'd the spinner the
            // other threads of that marked process are BATCH too (a sample once counted 4): sample
            // until exactly the three spinners are counted, 20 s at most.
            JsonElement busy = await TopAsync(d);
            for (var clock = System.Diagnostics.Stopwatch.StartNew();
                 busy.GetProperty("batch").GetProperty("runnable").GetUInt64() != 3 && clock.Elapsed < TimeSpan.FromSeconds(20);)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);
                busy = await TopAsync(d);
            }

            foreach (var p in spinners) p.Kill();
            foreach (var p in spinners) await p.WaitForExitAsync(TestContext.Current.CancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
            JsonElement idle = await TopAsync(d);

            // Three spinners are always runnable, as BATCH; top itself is running, as NORMAL.
            Assert.Equal(3UL, busy.GetProperty("batch").GetProperty("runnable").GetUInt64());
            Assert.True(busy.GetProperty("normal").GetProperty("runnable").GetUInt64() >= 1, busy.ToString());
            Assert.Equal(0UL, idle.GetProperty("batch").GetProperty("runnable").GetUInt64());
        }
        finally
        {
            foreach (var p in spinners)
            {
                if (!p.HasExited) p.Kill();
                p.Dispose();
            }
        }
    }

    private static async Task<JsonElement> TopAsync(DaemonProcess d)
    {
        ProcessResult top = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", d.SocketPath, "top", "--once", "--json", "--interval", "200ms"], s_timeout);
        Assert.Equal((0, ""), (top.ExitCode, top.Stderr));
        using JsonDocument doc = JsonDocument.Parse(top.Stdout);
        return doc.RootElement.GetProperty("classes").Clone();
    }
}
