using System.Diagnostics;
using System.Text.Json;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// Self-steps on the real kernel: a thread granted by agentschedd opens and closes its own BURST
/// windows with a prctl that agent_class answers, with no daemon request in between. Every class
/// asserted here is the one agent_class recorded for the step in the thread's ring, and every count
/// the scheduler's own (its stats map) or the daemon's request counter.
/// </summary>
public sealed class SelfStepKernelTests
{
    private const int EPERM = 1;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Runs <paramref name="body"/> on a new thread of its own (so its tid is fixed) and returns its result.</summary>
    private static Task<T> OnThread<T>(Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(body());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true, Name = "self-step" };
        thread.Start();
        return done.Task;
    }

    /// <summary>The calling thread's tid, from /proc/thread-self ("PID/task/TID").</summary>
    private static int Tid() => int.Parse(Path.GetFileName(new DirectoryInfo("/proc/thread-self").LinkTarget!));

    private static void Spin(TimeSpan t)
    {
        long end = Stopwatch.GetTimestamp() + (long)(t.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
        }
    }

    /// <summary>One step of the calling thread: a short run, then a block (which ends the step).</summary>
    private static void Step()
    {
        Spin(TimeSpan.FromMicroseconds(300));
        Thread.Sleep(1);
    }

    private static JsonElement Call(ApiConnection api, string line) => api.CallAsync(line).GetAwaiter().GetResult();

    private static ulong Stat(JsonElement stats, string name) => stats.GetProperty("scheduler").GetProperty(name).GetUInt64();

    /// <summary>The classes agent_class recorded for a thread's last steps, oldest first.</summary>
    private static string[] RecentClasses(ApiConnection api, int tid)
    {
        JsonElement steps = Call(api, $$"""{"v":1,"op":"steps","pid":{{tid}}}""");
        Assert.True(steps.GetProperty("ok").GetBoolean(), steps.ToString());
        JsonElement thread = steps.GetProperty("threads").EnumerateArray().Single(t => t.GetProperty("tid").GetInt32() == tid);
        return [.. thread.GetProperty("recent").EnumerateArray().Select(r => r.GetProperty("class").GetString()!)];
    }

    [Fact]
    public async Task AGrantedThreadOpensAndClosesItsOwnBurstStepsWithoutAskingTheDaemon()
    {
        using DaemonProcess d = DaemonProcess.Start();
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);
        const int rounds = 20;

        var (tid, grant, before, after, opened, closed, inside, outside) = await OnThread(() =>
        {
            int tid = Tid();
            JsonElement grant = Call(api, $$"""{"v":1,"op":"step_grant","tid":{{tid}}}""");
            JsonElement before = Call(api, """{"v":1,"op":"stats"}""");
            int opened = 0, closed = 0;
            for (int i = 0; i < rounds; i++)
            {
                opened += SelfStep.Call(AgentSelfStep.StepOpen, 10_000) == 0 ? 1 : 0;
                Step();     // the step this wakeup begins runs as BURST ...
                closed += SelfStep.Call(AgentSelfStep.StepClose) == 0 ? 1 : 0;
                Step();     // ... and, closed, the next one as NORMAL
            }
            JsonElement after = Call(api, """{"v":1,"op":"stats"}""");
            string[] inside = RecentClasses(api, tid);
            // Closed for good: every step from here on is NORMAL.
            for (int i = 0; i < 40; i++) Step();
            string[] outside = RecentClasses(api, tid);
            return (tid, grant, before, after, opened, closed, inside, outside);
        });

        string report = $"grant {grant}; inside the rounds [{string.Join(' ', inside)}]; after [{string.Join(' ', outside)}]";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(grant.GetProperty("granted").GetBoolean(), report);
        Assert.Equal((int)AgentSelfStep.PrctlStep, grant.GetProperty("prctl").GetInt32());
        Assert.Equal(rounds, opened);
        Assert.Equal(rounds, closed);
        // The scheduler counted every open and close; the daemon saw one request between the two
        // stats readings: the second reading itself.
        Assert.Equal(2UL * rounds, Stat(after, "self_step") - Stat(before, "self_step"));
        Assert.Equal(1, after.GetProperty("api").GetProperty("requests").GetInt64() - before.GetProperty("api").GetProperty("requests").GetInt64());
        // Half the steps of the rounds began inside a window. A stray block of the runtime's own
        // (a GC suspension, say) adds a step now and then, so a margin is allowed either way.
        int burst = inside.Count(c => c == "burst");
        Assert.True(burst >= inside.Length / 3 && inside.Count(c => c == "normal") >= inside.Length / 3, report);
        Assert.All(outside[^30..], c => Assert.Equal("normal", c));
        Assert.NotEqual(0, tid);
    }

    [Fact]
    public async Task WithoutAGrantOrAfterItsRevocationTheThreadCannotMakeItselfBurst()
    {
        using DaemonProcess d = DaemonProcess.Start();
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);
        // A standing NORMAL mark on the whole process: its threads' steps are recorded, and none has a grant.
        JsonElement mark = await api.CallAsync($$"""{"v":1,"op":"mark","pid":{{Environment.ProcessId}},"class":"normal"}""");
        Assert.True(mark.GetProperty("ok").GetBoolean(), mark.ToString());
        try
        {
            var (refused, ungranted, revoke, afterRevoke, granted, denied) = await OnThread(() =>
            {
                int tid = Tid();
                JsonElement before = Call(api, """{"v":1,"op":"stats"}""");
                int refused = 0;
                for (int i = 0; i < 40; i++)
                {
                    refused += SelfStep.Call(AgentSelfStep.StepOpen, 10_000) == EPERM ? 1 : 0;
                    refused += SelfStep.Call(AgentSelfStep.StepOpenProcess, 10_000) == EPERM ? 1 : 0;
                    Step();
                }
                string[] ungranted = RecentClasses(api, tid);

                // Granted, opened, and revoked while the window is open: the revocation ends it at once.
                Assert.True(Call(api, $$"""{"v":1,"op":"step_grant","tid":{{tid}}}""").GetProperty("granted").GetBoolean());
                Assert.Equal(0, SelfStep.Call(AgentSelfStep.StepOpen, 600_000));
                for (int i = 0; i < 8; i++) Step();
                string[] granted = RecentClasses(api, tid);
                JsonElement revoke = Call(api, $$"""{"v":1,"op":"step_revoke","tid":{{tid}}}""");
                for (int i = 0; i < 40; i++)
                {
                    refused += SelfStep.Call(AgentSelfStep.StepOpen, 10_000) == EPERM ? 1 : 0;
                    Step();
                }
                string[] afterRevoke = RecentClasses(api, tid);
                JsonElement after = Call(api, """{"v":1,"op":"stats"}""");
                // Granted again: the window opened under the first grant (600 s, never closed) stays void.
                Assert.True(Call(api, $$"""{"v":1,"op":"step_grant","tid":{{tid}}}""").GetProperty("granted").GetBoolean());
                for (int i = 0; i < 40; i++) Step();
                string[] regranted = RecentClasses(api, tid);
                Assert.All(regranted[^30..], c => Assert.Equal("normal", c));
                return (refused, ungranted, revoke, afterRevoke, granted, Stat(after, "self_step_denied") - Stat(before, "self_step_denied"));
            });

            string report = $"ungranted [{string.Join(' ', ungranted)}]; granted [{string.Join(' ', granted)}]; revoke {revoke}; after [{string.Join(' ', afterRevoke)}]";
            TestContext.Current.TestOutputHelper?.WriteLine(report);
            Assert.Equal(120, refused);
            Assert.Equal(120UL, denied);
            Assert.All(ungranted, c => Assert.Equal("normal", c));
            Assert.Contains("burst", granted[^6..]);
            Assert.True(revoke.GetProperty("was_granted").GetBoolean(), report);
            Assert.All(afterRevoke[^30..], c => Assert.Equal("normal", c));
        }
        finally
        {
            await api.CallAsync($$"""{"v":1,"op":"unmark","pid":{{Environment.ProcessId}}}""");
        }
    }

    [Fact]
    public async Task AnotherProcessOpeningItsOwnStepsLeavesThisThreadAlone()
    {
        using DaemonProcess d = DaemonProcess.Start();
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);
        using Process other = Process.Start(ProcessRunner.StartInfo(RepoPaths.Workload, "steps", "--seconds", "5", "--tool-us", "500", "--parse-us", "100",
            "--json", "--thread-steps", d.SocketPath))!;
        try
        {
            JsonElement before = await api.CallAsync("""{"v":1,"op":"stats"}""");
            // Granted but never opening a step, this thread steps beside a process whose threads open theirs all the time.
            string[] mine = await OnThread(() =>
            {
                int tid = Tid();
                Assert.True(Call(api, $$"""{"v":1,"op":"step_grant","tid":{{tid}}}""").GetProperty("granted").GetBoolean());
                var until = Stopwatch.StartNew();
                while (!other.HasExited && until.Elapsed < TimeSpan.FromMinutes(2)) Step();
                return RecentClasses(api, tid);
            });
            await other.WaitForExitAsync(Ct);
            JsonElement after = await api.CallAsync("""{"v":1,"op":"stats"}""");

            Assert.Equal(0, other.ExitCode);
            // Its two loop threads each opened one window for the whole loop and closed it at the end,
            // and their steps ran as BURST meanwhile.
            Assert.True(Stat(after, "self_step") - Stat(before, "self_step") >= 4, $"{before} {after}");
            Assert.True(Stat(after, "dispatch_burst") - Stat(before, "dispatch_burst") > 100, $"{before} {after}");
            Assert.All(mine, c => Assert.Equal("normal", c));
        }
        finally
        {
            if (!other.HasExited) other.Kill();
        }
    }

    [Fact]
    public async Task TheStepBudgetStillDemotesAThreadThatKeepsItsOwnStepOpenAndSpins()
    {
        using DaemonProcess d = DaemonProcess.Start();
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);

        var (before, after, recent) = await OnThread(() =>
        {
            int tid = Tid();
            Assert.True(Call(api, $$"""{"v":1,"op":"step_grant","tid":{{tid}}}""").GetProperty("granted").GetBoolean());
            JsonElement before = Call(api, """{"v":1,"op":"stats"}""");
            Assert.Equal(0, SelfStep.Call(AgentSelfStep.StepOpen, 600_000));
            for (int i = 0; i < 5; i++)
            {
                Thread.Sleep(20);   // long enough to block for certain (a 1 ms sleep may end before the thread is off its CPU)
                Spin(TimeSpan.FromMilliseconds(200));   // 25 times the default step budget (8 ms) without blocking
            }
            Thread.Sleep(20);
            JsonElement after = Call(api, """{"v":1,"op":"stats"}""");
            JsonElement steps = Call(api, $$"""{"v":1,"op":"steps","pid":{{tid}}}""");
            return (before, after, steps.GetProperty("threads").EnumerateArray().Single(t => t.GetProperty("tid").GetInt32() == tid)
                .GetProperty("recent").EnumerateArray().ToArray());
        });

        string report = string.Join("\n", recent.Select(r => r.ToString()));
        string counts = $"demote_step {Stat(before, "demote_step")} -> {Stat(after, "demote_step")}, demote_period {Stat(before, "demote_period")} -> {Stat(after, "demote_period")}";
        TestContext.Current.TestOutputHelper?.WriteLine($"{counts}\n{report}");
        // Each 200 ms spin is one step; one fewer than five is allowed, as a CI run once saw two
        // spins merge into one step behind a 1 ms sleep that did not block. A spin begins as
        // BURST inside the window and its step budget demotes it. (Whether the credit period
        // demotes too depends on whether the demoted run is preempted before it ends, which TCG
        // decides: two CI runs differed, so it is not asserted.)
        JsonElement[] spins = [.. recent.Where(r => r.GetProperty("run_ns").GetInt64() > 100_000_000)];
        Assert.True(spins.Length >= 4, report);
        Assert.Contains(spins, r => r.GetProperty("class").GetString() == "burst");
        Assert.All(spins, r => Assert.True(r.GetProperty("demoted").GetBoolean(), report));
        Assert.True(Stat(after, "demote_step") - Stat(before, "demote_step") + Stat(after, "demote_period") - Stat(before, "demote_period") >= (ulong)spins.Length - 1,
            $"{counts}\n{report}");
    }
}
