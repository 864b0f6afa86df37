using System.Diagnostics;
using System.Globalization;
using AgentSched.Interop;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>Hints decay: a step window ends on time, and a hint never passes to a process that reuses a pid.</summary>
public sealed class HintLifetimeTests
{
    private const int ESRCH = 3;

    [Fact]
    public async Task AStepWindowEndsAndTheTaskIsNormalAfterIt()
    {
        using var scheduler = AgentClassScheduler.Load(new AgentClassTunables());
        scheduler.Attach();
        using Process agent = StartAgentLoop(seconds: 8);
        scheduler.SetHint(agent.Id, new AgentHint { ClassId = (uint)AgentClass.Burst, HomeCpu = -1, WindowEndNs = MonotonicClock.After(TimeSpan.FromSeconds(3.5)) });

        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        IReadOnlyDictionary<AgentStat, ulong> inWindow = scheduler.ReadStats();
        await Task.Delay(TimeSpan.FromSeconds(1.5), TestContext.Current.CancellationToken);   // the window ends at 3.5 s
        IReadOnlyDictionary<AgentStat, ulong> afterEnd = scheduler.ReadStats();
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        IReadOnlyDictionary<AgentStat, ulong> later = scheduler.ReadStats();
        await agent.WaitForExitAsync(TestContext.Current.CancellationToken);

        string report = $"BURST dispatches: {inWindow[AgentStat.DispatchBurst]} in the window, {afterEnd[AgentStat.DispatchBurst]} at its end + 1 s, {later[AgentStat.DispatchBurst]} 2 s later; window expiries {later[AgentStat.WindowExpired]}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(inWindow[AgentStat.DispatchBurst] > 100, report);
        Assert.Equal(afterEnd[AgentStat.DispatchBurst], later[AgentStat.DispatchBurst]);
        Assert.True(later[AgentStat.WindowExpired] > 0, report);
    }

    [Fact]
    public async Task AHintDiesWithItsProcessAndNeverReachesOneThatReusesThePid()
    {
        using var scheduler = AgentClassScheduler.Load(new AgentClassTunables());
        scheduler.Attach();

        using Process first = Process.Start(ProcessRunner.StartInfo("sleep", "600"))!;
        int pid = first.Id;
        scheduler.SetHint(pid, new AgentHint { ClassId = (uint)AgentClass.Burst, HomeCpu = -1 });
        first.Kill();
        await first.WaitForExitAsync(TestContext.Current.CancellationToken);

        // Marking a pid with no process behind it is refused, not silently remembered.
        var e = Assert.Throws<SyscallException>(() => scheduler.SetHint(pid, new AgentHint { ClassId = (uint)AgentClass.Burst }));
        Assert.Equal(ESRCH, e.Errno);

        // Make the kernel hand the same pid to the next process, then run a busy agent loop in it.
        Process? reused = null;
        for (int attempt = 0; attempt < 20 && reused is null; attempt++)
        {
            File.WriteAllText("/proc/sys/kernel/ns_last_pid", (pid - 1).ToString(CultureInfo.InvariantCulture));
            Process p = StartAgentLoop(seconds: 5);
            if (p.Id == pid)
            {
                reused = p;
            }
            else
            {
                p.Kill();
                p.WaitForExit();
                p.Dispose();
            }
        }
        Assert.NotNull(reused);
        using (reused)
        {
            ulong start = scheduler.ReadStats()[AgentStat.DispatchBurst];
            await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
            ulong unmarked = scheduler.ReadStats()[AgentStat.DispatchBurst];
            Assert.Equal(start, unmarked);   // nothing ran as BURST: the dead process's hint did not apply

            // Control: the same process, marked now, does run as BURST.
            scheduler.SetHint(reused.Id, new AgentHint { ClassId = (uint)AgentClass.Burst, HomeCpu = -1 });
            await reused.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, reused.ExitCode);
            Assert.True(scheduler.ReadStats()[AgentStat.DispatchBurst] > unmarked + 100);
        }
    }

    private static Process StartAgentLoop(int seconds) =>
        Process.Start(ProcessRunner.StartInfo(RepoPaths.Workload, "steps", "--seconds", seconds.ToString(CultureInfo.InvariantCulture), "--json"))!;
}
