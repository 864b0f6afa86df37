using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>agent_class in full mode under load: hogs and fork/exec churn past the kernel's 30 s watchdog, hundreds of BURST spinners, and SCHED_FIFO spinners on every CPU.</summary>
public sealed class StabilityTests
{
    [Fact]
    public async Task StaysAttachedThroughHogsAndForkExecChurnPastTheWatchdogTimeout()
    {
        using var scheduler = AgentClassScheduler.Load(new AgentClassTunables());
        scheduler.Attach();
        SchedExtStatus before = SchedExtStatus.Read();
        Assert.Equal(("enabled", "agent_class"), (before.State, before.Ops));

        int hogs = 2 * Environment.ProcessorCount;
        var psi = ProcessRunner.StartInfo("sh", "-c",
            $"stress-ng --cpu {hogs} --aggressive --timeout 40s --quiet & "
            + "end=$(($(date +%s) + 40)); n=0; while [ $(date +%s) -lt $end ]; do /bin/true; n=$((n+1)); done; wait; echo $n");
        psi.WorkingDirectory = "/tmp";
        using Process load = Process.Start(psi)!;
        string forks = await load.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await load.WaitForExitAsync(TestContext.Current.CancellationToken);

        SchedExtStatus after = SchedExtStatus.Read();
        IReadOnlyDictionary<AgentStat, ulong> stats = scheduler.ReadStats();
        TestContext.Current.TestOutputHelper?.WriteLine($"{forks.Trim()} fork/execs beside {hogs} hogs; "
            + string.Join(", ", stats.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(0, load.ExitCode);
        Assert.True(int.Parse(forks.Trim(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(("enabled", "agent_class", before.EnableSeq), (after.State, after.Ops, after.EnableSeq));
        Assert.True(scheduler.IsAttached);
    }

    /// <summary>
    /// Far more runnable tasks than the starvation guard can serve within its bound: 500 spinning
    /// threads of one process marked BURST before its first instruction (`agentsched run --class
    /// burst`), released together, on 2 vCPUs. Their step budget demotes them, they then fill the
    /// NORMAL queue the guard walks, so some task is always due and the guard acts on every
    /// dispatch. They must end their run within a bound a stalled machine misses (1,000 unmarked
    /// threads spinning 8 s took about 14 s under EEVDF in this guest and 29-35 s under agent_class),
    /// with agent_class attached throughout, the demotions and the guard counted, and the daemon,
    /// the one process that can undo the marks, answering `status` while they spin.
    /// </summary>
    [Fact]
    public async Task HundredsOfSpinningBurstThreadsAreDemotedEndOnTimeAndLeaveTheDaemonReachable()
    {
        const int Threads = 500, Seconds = 4, BoundSeconds = 60;
        using DaemonProcess daemon = await StartAttachedAsync();
        SchedExtStatus before = SchedExtStatus.Read();
        JsonElement statsBefore = await SchedulerStatsAsync(daemon);

        var clock = Stopwatch.StartNew();
        using Process spinner = Process.Start(ProcessRunner.StartInfo(RepoPaths.Cli, "--socket", daemon.SocketPath, "run", "--class", "burst", "--",
            RepoPaths.Workload, "spin", "--threads", Threads.ToString(CultureInfo.InvariantCulture),
            "--seconds", Seconds.ToString(CultureInfo.InvariantCulture), "--run-us", "1000"))!;
        Task<string> output = spinner.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> errors = spinner.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(BoundSeconds));
        bool ended = true;
        string reachable;
        try
        {
            // Ask once the spinners are under way: the process has used a second of CPU time.
            while (!spinner.HasExited && ProcStat.CpuSeconds(spinner.Id) < 1)
            {
                await Task.Delay(100, bound.Token);
            }
            double asked = clock.Elapsed.TotalSeconds;
            JsonElement status = await ApiConnection.CallOnceAsync(daemon.SocketPath, """{"v":1,"op":"status"}""", TimeSpan.FromSeconds(BoundSeconds));
            Assert.Equal(("sched_ext", true), (status.GetProperty("mode").GetString(), status.GetProperty("healthy").GetBoolean()));
            double answered = clock.Elapsed.TotalSeconds;
            bool during = !spinner.HasExited;
            reachable = $"status asked at {asked:F1} s, answered at {answered:F1} s{(during ? ", the spinners still running" : ", after the spinners ended")}";
            Assert.True(during, reachable);
            await spinner.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            ended = false;
            reachable = "";
        }
        finally
        {
            if (!spinner.HasExited)
            {
                spinner.Kill(); // hundreds of spinners left behind would load every later test in this VM
            }
        }
        double took = clock.Elapsed.TotalSeconds;

        SchedExtStatus after = SchedExtStatus.Read();
        JsonElement stats = await SchedulerStatsAsync(daemon);
        ulong Delta(string name) => stats.GetProperty(name).GetUInt64() - statsBefore.GetProperty(name).GetUInt64();
        string report = $"{Threads} BURST spinners of {Seconds} s ended after {took:F1} s (bound {BoundSeconds} s): "
            + $"{(ended ? ((await output) + (await errors)).Trim() : "still running")}; {reachable}; demote_step +{Delta("demote_step")}, "
            + $"demote_period +{Delta("demote_period")}, starve_dispatch +{Delta("starve_dispatch")}, dispatch_normal +{Delta("dispatch_normal")}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(ended, report);
        Assert.Equal(0, spinner.ExitCode);
        Assert.Equal(("enabled", "agent_class", before.EnableSeq), (after.State, after.Ops, after.EnableSeq));
        // The marks bought no unbounded priority: the budgets demoted the spinners ...
        Assert.True(Delta("demote_step") + Delta("demote_period") > 0, report);
        // ... and the overload was real: the guard served due tasks.
        Assert.True(Delta("starve_dispatch") > 0, report);
    }

    private static async Task<DaemonProcess> StartAttachedAsync()
    {
        DaemonProcess daemon = DaemonProcess.Start();
        try
        {
            await daemon.WaitForSchedExtAsync(s => s is { State: "enabled", Ops: "agent_class" }, TimeSpan.FromSeconds(60), "agent_class attached");
            await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
            return daemon;
        }
        catch
        {
            daemon.Dispose();
            throw;
        }
    }

    private static async Task<JsonElement> SchedulerStatsAsync(DaemonProcess daemon) =>
        (await ApiConnection.CallOnceAsync(daemon.SocketPath, """{"v":1,"op":"stats"}""", TimeSpan.FromSeconds(60))).GetProperty("scheduler");

    /// <summary>
    /// SCHED_FIFO spinners on every CPU for 30 s. Real-time tasks run before every sched_ext task,
    /// so agent_class cannot give its tasks the CPU; what it must do is stay attached and let its
    /// tasks run in whatever time the kernel leaves them: the ext deadline server's 50 ms per
    /// second on 7.x; on 6.19.14, whatever the guest's RT runtime of 950000 of 1000000 us leaves
    /// them (docs/operations.md says what is not known). A ticker thread of this process (on
    /// agent_class, full mode) must tick while the spinners run, and the daemon must answer a
    /// status request while they run. The bounds are only "at all": how slowly is the kernel's and
    /// the emulator's. Measured here (2026-12-08): the ticker's longest gap 3.0-4.1 s on 7.3.4 (1.2
    /// s under multi-threaded TCG) and 0.5 s on 6.19.14, status answered 0.7-4.5 s after it was
    /// asked. Against EEVDF in one boot (multi-threaded TCG, 15 s of spinners, a shell loop running
    /// date as the ticker): longest gap 10.7-11.7 s under agent_class, 10.2-15.0 s under EEVDF.
    /// </summary>
    [Fact]
    public async Task FifoSpinnersOnEveryCpuNeitherEjectTheSchedulerNorStopItsTasks()
    {
        const int Seconds = 30;
        using DaemonProcess daemon = await StartAttachedAsync();
        SchedExtStatus before = SchedExtStatus.Read();

        var clock = Stopwatch.StartNew();
        var ticks = new List<double>();
        using var stop = new ManualResetEventSlim(false);
        var ticker = new Thread(() =>
        {
            while (!stop.Wait(200))
            {
                lock (ticks) { ticks.Add(clock.Elapsed.TotalSeconds); }
            }
        }) { IsBackground = true, Name = "ticker" };
        ticker.Start();

        var spinners = new List<Process>();
        double spinStart = clock.Elapsed.TotalSeconds;
        try
        {
            for (int cpu = 0; cpu < Environment.ProcessorCount; cpu++)
            {
                spinners.Add(Process.Start(ProcessRunner.StartInfo("chrt", "-f", "50", "taskset", "-c", cpu.ToString(CultureInfo.InvariantCulture),
                    RepoPaths.Workload, "spin", "--seconds", Seconds.ToString(CultureInfo.InvariantCulture), "--run-us", "1000"))!);
            }
            // Each spinner is running as SCHED_FIFO once it has exec'd the workload and used CPU time.
            while (!spinners.All(p => File.ReadAllText($"/proc/{p.Id}/comm").Trim() == "agentsched-work"
                && ProcStat.Sched(p.Id).Policy == 1 && ProcStat.OnCpuNs(p.Id) > 200_000_000))
            {
                Assert.True(clock.Elapsed.TotalSeconds < Seconds, "the FIFO spinners did not start spinning");
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            double spinning = clock.Elapsed.TotalSeconds, asked = spinning;
            JsonElement status = await ApiConnection.CallOnceAsync(daemon.SocketPath, """{"v":1,"op":"status"}""", TimeSpan.FromSeconds(90));
            double answered = clock.Elapsed.TotalSeconds;
            foreach (Process spinner in spinners)
            {
                await spinner.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken);
            }
            double spinEnd = clock.Elapsed.TotalSeconds;
            stop.Set();
            ticker.Join();

            SchedExtStatus after = SchedExtStatus.Read();
            double[] during = ticks.Where(t => t > spinning && t < spinEnd - 1).ToArray();
            double longest = ticks.Zip(ticks.Skip(1), (a, b) => b - a).DefaultIfEmpty(0).Max();
            string report = $"{spinners.Count} FIFO spinners started at {spinStart:F1} s, all spinning at {spinning:F1} s, ended at {spinEnd:F1} s; the ticker ticked {during.Length} times "
                + $"inside that, longest gap {longest:F1} s; status asked at {asked:F1} s, answered at {answered:F1} s: "
                + $"mode {status.GetProperty("mode").GetString()}, healthy {status.GetProperty("healthy").GetBoolean()}";
            TestContext.Current.TestOutputHelper?.WriteLine(report);
            Assert.All(spinners, s => Assert.Equal(0, s.ExitCode));
            Assert.Equal(("enabled", "agent_class", before.EnableSeq), (after.State, after.Ops, after.EnableSeq));
            Assert.Equal(("sched_ext", true, 0), (status.GetProperty("mode").GetString(), status.GetProperty("healthy").GetBoolean(), status.GetProperty("ejections").GetInt32()));
            Assert.True(during.Length > 0, report);
            Assert.True(answered < spinEnd, report);
        }
        finally
        {
            stop.Set();
            foreach (Process spinner in spinners)
            {
                if (!spinner.HasExited)
                {
                    spinner.Kill(); // FIFO spinners left behind would stall every later test in this VM
                }
                spinner.Dispose();
            }
        }
    }
}
