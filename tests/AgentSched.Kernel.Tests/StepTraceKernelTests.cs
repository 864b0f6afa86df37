using System.Diagnostics;
using System.Text.Json;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// agent_class's step records on the real kernel, read through agentschedd: a BURST agent loop whose
/// two threads are the only BURST-marked tasks, a BATCH loop, and unmarked CPU hogs on every vCPU.
/// </summary>
public sealed class StepTraceKernelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StepCountsMatchTheWorkloadAndBurstStepsWaitLessThanBatchSteps()
    {
        using DaemonProcess d = DaemonProcess.Start();
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);
        var hogs = new List<Process>();
        Process? burst = null;
        try
        {
            for (int i = 0; i < 2 * Environment.ProcessorCount; i++)
            {
                hogs.Add(Process.Start(ProcessRunner.StartInfo("sh", "-c", "while :; do :; done"))!);
            }
            JsonElement before = await api.CallAsync("""{"v":1,"op":"stats"}""");
            Task<ProcessResult> batch = ProcessRunner.RunAsync(RepoPaths.Cli,
                ["--socket", d.SocketPath, "run", "--class", "batch", "--", RepoPaths.Workload, "steps", "--seconds", "6", "--tool-us", "2000", "--parse-us", "200", "--json"],
                TimeSpan.FromSeconds(120));
            // The BURST loop's agent and tool threads open a step each for themselves alone; after the
            // loop it prints its result and lingers with both threads blocked, so their rings can be read.
            burst = Process.Start(ProcessRunner.StartInfo(RepoPaths.Workload, "steps", "--seconds", "6", "--tool-us", "2000", "--parse-us", "200",
                "--json", "--thread-steps", d.SocketPath, "--linger-ms", "600000"))!;
            string line = await burst.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct)
                ?? throw new InvalidOperationException($"the BURST loop printed nothing: {await burst.StandardError.ReadToEndAsync(Ct)}");
            using JsonDocument result = JsonDocument.Parse(line);
            int n = result.RootElement.GetProperty("steps").GetInt32();
            int agentTid = result.RootElement.GetProperty("agent_tid").GetInt32(), toolTid = result.RootElement.GetProperty("tool_tid").GetInt32();
            JsonElement steps = await api.CallAsync($$"""{"v":1,"op":"steps","pid":{{burst.Id}}}""");
            JsonElement after = await api.CallAsync("""{"v":1,"op":"stats"}""");
            long agentBlocks = Blocked(burst.Id, agentTid) - result.RootElement.GetProperty("agent_blocked_at_start").GetInt64();
            long toolBlocks = Blocked(burst.Id, toolTid) - result.RootElement.GetProperty("tool_blocked_at_start").GetInt64();
            ProcessResult batchResult = await batch;

            Assert.True(steps.GetProperty("ok").GetBoolean(), steps.ToString());
            var threads = steps.GetProperty("threads").EnumerateArray().ToDictionary(t => t.GetProperty("tid").GetInt32());
            string report = $"loop: {line}; steps: {steps}";
            TestContext.Current.TestOutputHelper?.WriteLine(report);
            // Only the two loop threads were marked, so only they and threads they started (which
            // inherit their class) have recorded steps; the main thread has none.
            Assert.True(threads.ContainsKey(agentTid) && threads.ContainsKey(toolTid) && !threads.ContainsKey(burst.Id), report);
            long agent = threads[agentTid].GetProperty("steps").GetInt64(), tool = threads[toolTid].GetProperty("steps").GetInt64();
            long all = threads.Values.Sum(t => t.GetProperty("steps").GetInt64());
            // A step ends when its thread blocks. The kernel counts those blocks on its own
            // (voluntary_ctxt_switches): the BPF step counts equal them since the steps opened, but
            // for races the two counts see differently (a block with a signal pending counts
            // without a dequeue; a task woken before its CPU picked the next one is dequeued and
            // requeued without a switch): the CI run of 2026-11-22 saw 1232 steps for 1230 blocks,
            // so one in 200 is allowed.
            long slack = 1 + n / 200;
            Assert.True(Math.Abs(tool - toolBlocks) <= slack, $"tool: {tool} steps recorded, {toolBlocks} blocks counted by the kernel: {report}");
            Assert.True(Math.Abs(agent - agentBlocks) <= slack, $"agent: {agent} steps recorded, {agentBlocks} blocks counted by the kernel: {report}");
            // Each request is one block of the tool, unless the next request arrived before the tool
            // went back to read (under TCG a vCPU may stall for a while): then one step serves two.
            // The tool also blocks outside its reads: 2.4% and 3.0% more steps than requests in the
            // CI run of 2026-11-22 (the kernel's block count agreed, so they are real blocks; most
            // likely the .NET runtime suspending the thread for a GC or tiered JIT), so a tenth is allowed.
            Assert.True(tool <= n + n / 10 && tool >= n * 3 / 4, $"tool {tool} steps for {n} requests: {report}");
            // What the histograms counted in this interval are exactly these steps, as BURST or, once
            // the credit share ran out, NORMAL (nothing else on the machine has a BURST or NORMAL
            // hint), give or take the steps of the other threads in flight between the two reads.
            long counted = StepCount(after, "burst") - StepCount(before, "burst") + StepCount(after, "normal") - StepCount(before, "normal");
            Assert.True(Math.Abs(counted - all) <= 3, $"the histograms counted {counted} steps, the threads' rings {all}: {report}");
            Assert.True(StepCount(after, "burst") - StepCount(before, "burst") > n / 2, report);
            // Burst steps wait less for a CPU than the BATCH loop's steps, which queue behind the hogs.
            Assert.Equal(0, batchResult.ExitCode);
            Log2Histogram burstWait = Delta(before, after, "burst", "wait"), batchWait = Delta(before, after, "batch", "wait");
            string waits = $"BURST step wait p50 <= {burstWait.PercentileUpperBoundNs(50)} ns, mean {burstWait.SumNs / Math.Max(1UL, burstWait.Count)} ns over {burstWait.Count}; "
                + $"BATCH p50 <= {batchWait.PercentileUpperBoundNs(50)} ns, mean {batchWait.SumNs / Math.Max(1UL, batchWait.Count)} ns over {batchWait.Count}";
            TestContext.Current.TestOutputHelper?.WriteLine(waits);
            Assert.True(batchWait.Count > 0, waits);
            Assert.True(burstWait.PercentileUpperBoundNs(50) < batchWait.PercentileUpperBoundNs(50), waits);
            Assert.True(burstWait.SumNs / burstWait.Count < batchWait.SumNs / batchWait.Count, waits);
            // Each kept step of the tool is whole and adds up: wait + run <= total, and it ran its 2 ms.
            JsonElement[] recent = [.. threads[toolTid].GetProperty("recent").EnumerateArray()];
            Assert.Equal(Enumerable.Range((int)tool - 31, 32).Select(s => (long)s), recent.Select(r => r.GetProperty("seq").GetInt64()));
            foreach (JsonElement r in recent)
            {
                ulong total = r.GetProperty("total_ns").GetUInt64(), wait = r.GetProperty("wait_ns").GetUInt64(), run = r.GetProperty("run_ns").GetUInt64();
                Assert.True(wait + run <= total + 1000 && run > 0, $"{r}");
                Assert.Contains(r.GetProperty("class").GetString(), new[] { "burst", "normal" });
                Assert.InRange(r.GetProperty("cpu").GetInt32(), 0, Environment.ProcessorCount - 1);
                if (r.GetProperty("home_hit").GetBoolean())
                {
                    Assert.Equal(r.GetProperty("home_cpu").GetInt32(), r.GetProperty("cpu").GetInt32());
                    Assert.Equal(0, r.GetProperty("migrations").GetInt32());
                }
            }
            ulong medianRun = recent.Select(r => r.GetProperty("run_ns").GetUInt64()).Order().ElementAt(recent.Length / 2);
            Assert.True(medianRun >= 1_900_000, $"the tool's median step ran {medianRun} ns, not its 2 ms: {report}");
        }
        finally
        {
            foreach (Process p in hogs.Append(burst).OfType<Process>())
            {
                if (!p.HasExited) p.Kill();
                p.Dispose();
            }
        }
    }

    [Fact]
    public async Task AStepCutByLeavingAgentClassIsDiscardedNotStretched()
    {
        // Partial mode: unmark moves the task back to the fair class, mark moves it to SCHED_EXT
        // again. The spinner is almost always running, so both moves land in the middle of a step.
        using DaemonProcess d = DaemonProcess.Start(null, "--Scheduler:Partial=true");
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);
        using var spinner = Process.Start(ProcessRunner.StartInfo(RepoPaths.Cli, "--socket", d.SocketPath, "run", "--class", "burst", "--",
            RepoPaths.Workload, "spin", "--seconds", "60", "--run-us", "20000", "--sleep-us", "1000"))!;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), Ct);
            JsonElement unmark = await api.CallAsync($$"""{"v":1,"op":"unmark","pid":{{spinner.Id}}}""");
            await Task.Delay(TimeSpan.FromSeconds(2), Ct);   // away from agent_class, running
            JsonElement mark = await api.CallAsync($$"""{"v":1,"op":"mark","pid":{{spinner.Id}},"class":"burst"}""");
            await Task.Delay(TimeSpan.FromMilliseconds(400), Ct);   // a few steps, far fewer than the ring's 32
            JsonElement steps = await api.CallAsync($$"""{"v":1,"op":"steps","pid":{{spinner.Id}}}""");

            Assert.True(unmark.GetProperty("ok").GetBoolean() && mark.GetProperty("ok").GetBoolean(), $"{unmark} {mark}");
            JsonElement main = steps.GetProperty("threads").EnumerateArray().Single(t => t.GetProperty("tid").GetInt32() == spinner.Id);
            JsonElement[] recent = [.. main.GetProperty("recent").EnumerateArray()];
            Assert.True(recent.Length >= 2, $"{steps}");
            // A step is one 20 ms spin and its waits; none may span the 2 s away from agent_class.
            Assert.All(recent, r => Assert.True(r.GetProperty("total_ns").GetUInt64() < 1_000_000_000, $"{r} spans the time away: {steps}"));
        }
        finally
        {
            if (!spinner.HasExited) spinner.Kill();
        }
    }

    /// <summary>The kernel's count of the times a thread blocked.</summary>
    private static long Blocked(int pid, int tid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/task/{tid}/status").Single(l => l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))["voluntary_ctxt_switches:".Length..].Trim());

    private static long StepCount(JsonElement stats, string cls) => stats.GetProperty("steps").GetProperty(cls).GetProperty("count").GetInt64();

    /// <summary>The step histogram <paramref name="part"/> of a class between two stats readings.</summary>
    private static Log2Histogram Delta(JsonElement before, JsonElement after, string cls, string part)
    {
        JsonElement a = before.GetProperty("steps").GetProperty(cls).GetProperty(part), b = after.GetProperty("steps").GetProperty(cls).GetProperty(part);
        ulong[] buckets = [.. b.GetProperty("buckets").EnumerateArray().Zip(a.GetProperty("buckets").EnumerateArray(), (x, y) => x.GetUInt64() - y.GetUInt64())];
        ulong sumNs = (ulong)Math.Round((b.GetProperty("sum_us").GetDouble() - a.GetProperty("sum_us").GetDouble()) * 1000);
        return new Log2Histogram(buckets, sumNs);
    }
}
