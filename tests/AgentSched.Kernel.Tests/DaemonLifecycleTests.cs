using System.Diagnostics;
using System.Text.Json;
using AgentSched.Daemon;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>agentschedd against the real kernel: attach, schedule, detach, and its refusals.</summary>
public sealed class DaemonLifecycleTests
{
    private static readonly TimeSpan s_exit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AttachesWithin20SecondsUnderTcgSchedulesEveryTaskAndDetachesOnSigterm()
    {
        Assert.Equal("disabled", SchedExtStatus.Read().State);
        // The bound is the emulator's, not hardware's. Under single-threaded TCG on 7.3.4 a start
        // took 12 to 18 s to enabled (2026-12-08, three starts in one boot); strace put about 4 s
        // in libbpf parsing the kernel's BTF, 4 s in the verifier, and most of the rest in the
        // process's own start, all of it work that takes well under a second on hardware. The
        // old 10 s bound failed every start in CI. A start over 20 s is stopped and made once
        // more, and the bound holds for the better of the two. Every start that is given up is
        // ended here: one left running attaches later and fails every test after this one.
        const int starts = 2;
        DaemonProcess? daemon = null;
        TimeSpan took = TimeSpan.Zero;
        for (int start = 1; daemon is null; start++)
        {
            var candidate = DaemonProcess.Start();
            try
            {
                took = await candidate.WaitForSchedExtAsync(s => s is { State: "enabled", Ops: "agent_class" }, TimeSpan.FromSeconds(20), $"agent_class attached (start {start} of {starts})");
                daemon = candidate;
            }
            catch (TimeoutException slow) when (start < starts)
            {
                TestContext.Current.TestOutputHelper?.WriteLine(slow.Message);
                candidate.Dispose();
                await SchedExtWait.WaitForSchedExtAsync(s => s.State == "disabled", s_exit, $"start {start}'s scheduler detached");
            }
            catch
            {
                candidate.Dispose();
                throw;
            }
        }
        using DaemonProcess _ = daemon;
        TestContext.Current.TestOutputHelper?.WriteLine($"agent_class enabled {took.TotalMilliseconds:F0} ms after agentschedd started");

        // Full mode: this very process (a fair-class task) now runs on sched_ext ...
        Assert.True(SchedExtStatus.Read().SwitchAll);
        Assert.Matches(@"ext\.enabled\s*:\s*1", File.ReadAllText("/proc/self/sched"));
        // ... and the scheduler's own counters show it placing and queueing tasks.
        await Task.Delay(500, TestContext.Current.CancellationToken);
        ulong[] stats = ReadStatsWithBpftool();
        Assert.True(stats[(int)AgentStat.DispatchNormal] + stats[(int)AgentStat.DirectIdle] > 0,
            $"agent_class counted no dispatches: [{string.Join(", ", stats)}]");

        daemon.Signal(Signals.SIGTERM);
        Assert.Equal(0, await daemon.WaitForExitAsync(s_exit));
        Assert.Equal("disabled", SchedExtStatus.Read().State);
        Assert.Contains("scheduler agent_class attached", daemon.Output);
        Assert.Contains("scheduler detached", daemon.Output);
    }

    [Fact]
    public async Task AnIdleDaemonStaysOffTheCpu()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSchedExtAsync(s => s is { State: "enabled", Ops: "agent_class" }, TimeSpan.FromSeconds(30), "agent_class attached");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(2000, TestContext.Current.CancellationToken);

        // With the thread pool's default spin-waiting, an idle agentschedd used about a quarter of
        // a CPU under TCG; with it off, 1.3-6.5% per 6 s window (2026-11-22, 6.19.14). Over 10 s,
        // not 5: one 5 s window in CI once went past the bound, and a longer one averages out the
        // TCG noise without hiding a daemon that keeps spinning. The message says how busy the
        // rest of the guest was meanwhile: under single-threaded TCG a busy vCPU inflates the
        // time charged to the other one's tasks.
        double before = ProcStat.CpuSeconds(daemon.Pid), busyBefore = ProcStat.BusyCpuSeconds();
        var wall = Stopwatch.StartNew();
        await Task.Delay(10_000, TestContext.Current.CancellationToken);
        double used = ProcStat.CpuSeconds(daemon.Pid) - before, busy = ProcStat.BusyCpuSeconds() - busyBefore;
        double seconds = wall.Elapsed.TotalSeconds, share = used / seconds;
        string report = $"an idle agentschedd used {share:P1} of a CPU ({used:F2} s in {seconds:F1} s); all {Environment.ProcessorCount} CPUs were busy {busy / seconds:P0} of a CPU meanwhile";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(share < 0.10, report);
    }

    [Fact]
    public async Task ASecondDaemonIsRefusedInOneLineAndTheFirstKeepsRunning()
    {
        using var first = DaemonProcess.Start();
        // Not the 20 s attach bound (AttachesWithin20Seconds... holds that): when this test runs
        // first, the cold start of the runtime under TCG alone has taken longer.
        await first.WaitForSchedExtAsync(s => s is { State: "enabled", Ops: "agent_class" }, TimeSpan.FromSeconds(30), "agent_class attached");
        long? seq = SchedExtStatus.Read().EnableSeq;

        // Mode sched_ext: refuse to run without the scheduler.
        using var second = DaemonProcess.Start(null, "--Scheduler:Mode=sched_ext");
        int code = await second.WaitForExitAsync(s_exit);

        Assert.Equal((int)DaemonExitCode.SchedulerBusy, code);
        Assert.Equal(
            "agentschedd: another sched_ext scheduler is attached (agent_class, state enabled); detach it before starting agentschedd",
            second.Output.Trim());

        // Mode auto: serve in fallback, unhealthy, and leave the attached scheduler alone.
        using (var third = DaemonProcess.Start())
        {
            await third.WaitForSocketAsync(s_exit);
            using ApiConnection c = await ApiConnection.OpenAsync(third.SocketPath);
            JsonElement status = await c.CallAsync("""{"v":1,"op":"status"}""");
            Assert.Equal(("fallback", false), (status.GetProperty("mode").GetString(), status.GetProperty("healthy").GetBoolean()));
            Assert.Contains("another sched_ext scheduler is attached (agent_class", status.GetProperty("reason").GetString());
            third.Signal(Signals.SIGTERM);
            Assert.Equal(0, await third.WaitForExitAsync(s_exit));
        }
        SchedExtStatus after = SchedExtStatus.Read();
        Assert.Equal(("enabled", "agent_class", seq), (after.State, after.Ops, after.EnableSeq));

        first.Signal(Signals.SIGTERM);
        Assert.Equal(0, await first.WaitForExitAsync(s_exit));
        Assert.Equal("disabled", SchedExtStatus.Read().State);
    }

    [Fact]
    public async Task AVerifierRejectionFailsTheDaemonWithTheVerifiersMessage()
    {
        string path = Path.Combine(Path.GetTempPath(), "verifier_reject_ops.bpf.o");
        using (Stream s = typeof(DaemonLifecycleTests).Assembly.GetManifestResourceStream("verifier_reject_ops.bpf.o")!)
        using (FileStream f = File.Create(path))
        {
            s.CopyTo(f);
        }

        using var daemon = DaemonProcess.Start(null, $"--Scheduler:ObjectPath={path}", "--Scheduler:Mode=sched_ext");
        int code = await daemon.WaitForExitAsync(s_exit);

        Assert.Equal((int)DaemonExitCode.LoadFailed, code);
        Assert.StartsWith("agentschedd: loading the agent_class scheduler failed: bpf_object__load failed: EACCES", daemon.Output);
        Assert.Contains("invalid mem access 'map_value_or_null'", daemon.Output);
        Assert.Equal("disabled", SchedExtStatus.Read().State);

        // In the default mode the same failure leaves the API serving, in fallback, with the reason.
        using var auto = DaemonProcess.Start(null, $"--Scheduler:ObjectPath={path}");
        await auto.WaitForSocketAsync(s_exit);
        using ApiConnection c = await ApiConnection.OpenAsync(auto.SocketPath);
        JsonElement status = await c.CallAsync("""{"v":1,"op":"status"}""");
        Assert.Equal(("fallback", false), (status.GetProperty("mode").GetString(), status.GetProperty("healthy").GetBoolean()));
        Assert.Contains("invalid mem access 'map_value_or_null'", status.GetProperty("reason").GetString());
        auto.Signal(Signals.SIGTERM);
        Assert.Equal(0, await auto.WaitForExitAsync(s_exit));
    }

    /// <summary>The per-CPU `stats` map summed over CPUs, read the way an operator would, with bpftool.</summary>
    private static ulong[] ReadStatsWithBpftool()
    {
        var psi = new ProcessStartInfo("bpftool", ["--json", "map", "dump", "name", "stats"]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string json = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        var sums = new ulong[Enum.GetValues<AgentStat>().Length];
        using JsonDocument doc = JsonDocument.Parse(json);
        // With --json bpftool prints the raw bytes, and the BTF-typed value under "formatted".
        JsonElement entry = doc.RootElement[0].GetProperty("formatted");
        foreach (JsonElement cpu in entry.GetProperty("values").EnumerateArray())
        {
            int i = 0;
            foreach (JsonElement v in cpu.GetProperty("value").EnumerateArray())
            {
                sums[i++] += v.GetUInt64();
            }
        }
        return sums;
    }
}
