using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// agent_class's policy on the real kernel, loaded in-process and steered through its hint map.
/// It compares step rates, so scripts/test runs it in a VM of its own with multi-threaded TCG
/// (trait vm=mttcg), where the vCPUs run at once: single-threaded TCG runs them in turns and hands
/// the host thread over on interrupts, which made EEVDF's rate depend on how many timer interrupts
/// the kernel raises (docs/dev/policy-step-rate.md).
/// </summary>
[Trait("vm", "mttcg")]
public sealed class PolicyTests
{
    private static readonly int s_hogs = 2 * Environment.ProcessorCount;

    [Fact]
    public async Task MarkedStepsWaitLessThanBatchBesideBatchHogsAndStayOnTheirCpu()
    {
        Assert.Equal("disabled", SchedExtStatus.Read().State);
        // One 6 s run per contender is too noisy under TCG (EEVDF alone ranged 87-135 steps/s):
        // interleave EEVDF and agent_class five times in this boot and compare medians.
        var eevdfRuns = new List<double>();
        var ourRuns = new List<double>();
        IReadOnlyDictionary<AgentStat, ulong> stats = new Dictionary<AgentStat, ulong>();
        AgentLatencySnapshot? latency = null;
        for (int round = 0; round < 5; round++)
        {
            eevdfRuns.Add(await StepsPerSecondBesideHogs(scheduler: null));
            using var scheduler = AgentClassScheduler.Load(new AgentClassTunables());
            scheduler.Attach();
            ourRuns.Add(await StepsPerSecondBesideHogs(scheduler));
            stats = scheduler.ReadStats();
            latency = scheduler.ReadLatency();
            scheduler.Detach();
        }
        double eevdf = Median(eevdfRuns), ours = Median(ourRuns);

        Assert.NotNull(latency);
        string report = $"steps/s EEVDF {eevdf:F1}, agent_class {ours:F1}, {ours / eevdf:F2}x (medians of [{string.Join(", ", eevdfRuns.Select(r => r.ToString("F1", CultureInfo.InvariantCulture)))}] and [{string.Join(", ", ourRuns.Select(r => r.ToString("F1", CultureInfo.InvariantCulture)))}], last round's counters follow); BURST wait p99 <= {latency.PercentileUpperBoundNs(AgentClass.Burst, 99)} ns "
            + $"({latency.Count(AgentClass.Burst)} waits), BATCH p99 <= {latency.PercentileUpperBoundNs(AgentClass.Batch, 99)} ns ({latency.Count(AgentClass.Batch)}); "
            + string.Join(", ", stats.Select(kv => $"{kv.Key}={kv.Value}"));
        TestContext.Current.TestOutputHelper?.WriteLine(report);

        // Issue 3 asks for 2x EEVDF's steps in the same boot. Under multi-threaded TCG the loop
        // measured 2.61x on 7.3.4 (410.5 against 157.5 steps/s) and 2.47x on 6.19.14 (423.2 against
        // 171.0; scripts/lib/policy-ab, medians of 3 rounds). Under single-threaded TCG it was
        // 1.76-1.83x on 7.3.4 and 2.13-2.21x on 6.19.14: 7.3.4 enables HRTICK, whose timer
        // interrupts shortened EEVDF's turns (EEVDF 135.8 steps/s with it, 108.4 without;
        // docs/dev/policy-step-rate.md). The BATCH hogs must have yielded to the loop.
        Assert.True(ours >= 2 * eevdf, $"the BURST loop did not complete 2x EEVDF's steps: {report}");
        Assert.True(stats[AgentStat.BatchYield] > 0, $"no BATCH run was cut short for the waiting loop: {report}");
        Assert.True(stats[AgentStat.Inherited] >= (ulong)s_hogs, $"the hogs forked by a BATCH parent were not counted as inherited: {report}");
        Assert.True(latency.Count(AgentClass.Burst) > 0 && latency.Count(AgentClass.Batch) > 0, report);
        Assert.True(latency.PercentileUpperBoundNs(AgentClass.Burst, 99) < latency.PercentileUpperBoundNs(AgentClass.Batch, 99), report);
        Assert.Equal(0UL, stats[AgentStat.MigrateInWindow]);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>
    /// One agent loop (2 ms tool + 0.2 ms parse per step) beside 2x vCPU CPU hogs. With a scheduler,
    /// the hogs' parent is marked BATCH and the loop BURST before either execs, so the hogs inherit
    /// BATCH at fork and the loop's threads are covered through their group leader.
    /// </summary>
    private static async Task<double> StepsPerSecondBesideHogs(AgentClassScheduler? scheduler)
    {
        using Process hogs = StartDelayed($"exec stress-ng --cpu {s_hogs} --timeout 60s --quiet");
        scheduler?.SetHint(hogs.Id, new AgentHint { ClassId = (uint)AgentClass.Batch, HomeCpu = -1 });
        // The loop starts once every hog runs: stress-ng takes a while to start its workers under
        // TCG, and a loop that began beside fewer hogs would measure that instead.
        await WaitForRunningChildren(hogs.Id, s_hogs);
        using Process agent = StartDelayed($"exec {RepoPaths.Workload} steps --seconds 6 --tool-us 2000 --parse-us 200 --json");
        scheduler?.SetHint(agent.Id, new AgentHint { ClassId = (uint)AgentClass.Burst, HomeCpu = -1 });
        try
        {
            string output = await agent.StandardOutput.ReadToEndAsync();
            await agent.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, agent.ExitCode);
            using JsonDocument doc = JsonDocument.Parse(output);
            return doc.RootElement.GetProperty("steps_per_second").GetDouble();
        }
        finally
        {
            hogs.Kill(entireProcessTree: true);
            await hogs.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Waits until <paramref name="parent"/> has <paramref name="count"/> children that have each run 20 ms.</summary>
    private static async Task WaitForRunningChildren(int parent, int count)
    {
        var clock = Stopwatch.StartNew();
        int running = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            running = 0;
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out int pid))
                {
                    continue;
                }
                try
                {
                    if (ProcStat.ParentPid(pid) == parent && ProcStat.OnCpuNs(pid) >= 20_000_000)
                    {
                        running++;
                    }
                }
                catch (IOException)
                {
                    // It exited while we looked.
                }
            }
            if (running >= count)
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"only {running} of {count} hogs (children of {parent}) ran 20 ms within 30 s");
    }

    /// <summary>Starts `sh -c "sleep 1; SCRIPT"` in /tmp: the second gives the test time to mark the pid before SCRIPT runs.</summary>
    private static Process StartDelayed(string script)
    {
        var psi = ProcessRunner.StartInfo("sh", "-c", string.Create(CultureInfo.InvariantCulture, $"sleep 1; {script}"));
        psi.WorkingDirectory = "/tmp";
        return Process.Start(psi)!;
    }
}
