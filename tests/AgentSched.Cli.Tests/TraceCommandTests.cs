using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using AgentSched.Cli.Commands;
using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

/// <summary>
/// <c>trace</c> against a scripted daemon: each poll gets the next answer of a script (the last
/// one repeats), and the waits between polls are instant. After <c>interruptAfter</c> waits the
/// test presses Ctrl-C.
/// </summary>
public sealed partial class TraceCommandTests
{
    private const int Pid = 4242;

    /// <summary>One record of a thread's <c>recent</c>, as the daemon writes it; the defaults are a quick BURST step on its home CPU.</summary>
    private static string Step(long seq, long endNs, string cls = "burst", long total = 2_310_000, long wait = 41_000, long run = 2_260_000,
        int cpu = 1, int home = 1, bool hit = true, int migrations = 0, int preemptions = 0, bool demoted = false) =>
        $$"""{"seq":{{seq}},"end_ns":{{endNs}},"class":"{{cls}}","total_ns":{{total}},"wait_ns":{{wait}},"run_ns":{{run}},"cpu":{{cpu}},"home_cpu":{{home}},"home_hit":{{(hit ? "true" : "false")}},"migrations":{{migrations}},"preemptions":{{preemptions}},"demoted":{{(demoted ? "true" : "false")}}}""";

    private static string Thread(int tid, string comm, long steps, params string[] recent) =>
        $$"""{"tid":{{tid}},"comm":"{{comm}}","steps":{{steps}},"recent":[{{string.Join(',', recent)}}]}""";

    private static string Answer(long nowNs, params string[] threads) =>
        $$"""{"v":1,"ok":true,"pid":{{Pid}},"now_ns":{{nowNs}},"threads":[{{string.Join(',', threads)}}]}""";

    private static string Refusal(string code, string message) =>
        $$$"""{"v":1,"ok":false,"error":{"code":"{{{code}}}","message":"{{{message}}}"}}""";

    /// <summary>A daemon that answers the n-th request with <paramref name="answers"/>[n], and the last one from then on.</summary>
    private static FakeDaemon Script(params string[] answers)
    {
        int n = -1;
        return new FakeDaemon(_ => answers[Math.Min(Interlocked.Increment(ref n), answers.Length - 1)]);
    }

    /// <summary>Runs trace against <paramref name="daemon"/>; Ctrl-C during the <paramref name="interruptAfter"/>-th wait.</summary>
    private static (CliResult Result, List<TimeSpan> Waits) Trace(FakeDaemon daemon, int interruptAfter, params string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        var waits = new List<TimeSpan>();
        var environment = new CliEnvironment
        {
            ReadKernel = () => CliHarness.NoSchedExt,
            Exec = (file, _) => throw new InvalidOperationException($"exec {file} in a test process"),
            Delay = (t, token) =>
            {
                waits.Add(t);
                if (waits.Count == interruptAfter) interrupt.Cancel();
                token.ThrowIfCancellationRequested();
                return Task.CompletedTask;
            },
            Interrupt = interrupt.Token,
            OutputIsTerminal = false,
        };
        return (CliHarness.Run(environment, ["trace", "--socket", daemon.SocketPath, .. args]), waits);
    }

    private const string Header = "    TID COMM                 SEQ CLASS      TOTAL      WAIT       RUN  CPU HOME      MIGR PREEMPT\n";

    [Fact]
    public void TheBaselineIsNotShownAndNewStepsAreShownOnceInTheOrderTheyEnded()
    {
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 10, Step(9, 1_000), Step(10, 2_000)), Thread(4250, "tool", 3, Step(3, 2_500))),
            Answer(8_000,
                Thread(4242, "agent", 12, Step(9, 1_000), Step(10, 2_000), Step(11, 5_000), Step(12, 7_000, "batch", 120_000_000, 30_200_000, 89_800_000, cpu: 3, hit: false, migrations: 2, preemptions: 11, demoted: true)),
                Thread(4250, "tool", 4, Step(3, 2_500), Step(4, 6_000, total: 850, wait: 0, run: 850, home: -1, hit: false)),
                Thread(4260, "late", 1, Step(1, 5_500, "normal", 1_500_000_000, 999_600, 1_499_000_400, cpu: 0, home: 0))),
            // The daemon was asked for the steps after 3000 (the baseline's now_ns): 11 and 12 come again.
            Answer(12_000, Thread(4242, "agent", 13, Step(11, 5_000), Step(12, 7_000), Step(13, 9_000)), Thread(4250, "tool", 4, Step(4, 6_000))),
            Answer(15_000, Thread(4242, "agent", 13, Step(13, 9_000))));

        (CliResult r, List<TimeSpan> waits) = Trace(daemon, interruptAfter: 4, "--pid", "4242");

        Assert.Equal(0, r.Code);
        Assert.Equal(
            Header +
            "   4242 agent                 11 burst    2.31 ms   41.0 us   2.26 ms    1 1 hit        0       0\n" +
            "   4260 late                   1 normal    1.50 s   1.00 ms    1.50 s    0 0 hit        0       0\n" +
            "   4250 tool                   4 burst     850 ns      0 ns    850 ns    1 -            0       0\n" +
            "   4242 agent                 12 batch     120 ms   30.2 ms   89.8 ms    3 1 miss       2      11  demoted\n" +
            "   4242 agent                 13 burst    2.31 ms   41.0 us   2.26 ms    1 1 hit        0       0\n",
            r.Out);
        Assert.Equal("agentsched: trace: 5 steps shown, 0 not shown\n", r.Err);
        Assert.Equal(Enumerable.Repeat(TimeSpan.FromMilliseconds(200), 4), waits);
        // The first two polls take every kept step; each later one the steps after the now_ns of the poll before the last.
        Assert.Equal(
            [
                """{"v":1,"op":"steps","pid":4242}""",
                """{"v":1,"op":"steps","pid":4242}""",
                """{"v":1,"op":"steps","pid":4242,"after_ns":3000}""",
                """{"v":1,"op":"steps","pid":4242,"after_ns":8000}""",
            ],
            daemon.RequestLines);
    }

    [Fact]
    public void StepsOverwrittenBeforeTheyWereReadAreAGapThatIsCounted()
    {
        string[] ring = [.. Enumerable.Range(40, 32).Select(seq => Step(seq, 10_000 + seq))];
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 5, Step(5, 1_000))),
            Answer(8_000, Thread(4242, "agent", 71, ring)),
            Answer(9_000, Thread(4242, "agent", 73, ring[^1], Step(73, 20_000))));

        (CliResult r, _) = Trace(daemon, interruptAfter: 3, "--pid", "4242");

        string[] lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(0, r.Code);
        Assert.Equal("   4242 agent                ... 34 steps not shown (seq 6-39 were overwritten before they were read)", lines[1]);
        Assert.StartsWith("   4242 agent                 40 burst", lines[2]);
        Assert.Equal("   4242 agent                ... 1 step not shown (seq 72 was overwritten before it was read)", lines[^2]);
        Assert.StartsWith("   4242 agent                 73 burst", lines[^1]);
        Assert.Equal(1 + 1 + 32 + 1 + 1, lines.Length);
        Assert.Equal("agentsched: trace: 33 steps shown, 35 not shown\n", r.Err);
    }

    [Fact]
    public void ANewThreadOnATidSeenBeforeCountsFromOne()
    {
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4250, "old", 100, Step(100, 1_000))),
            Answer(8_000, Thread(4250, "new", 2, Step(1, 5_000), Step(2, 6_000))));

        (CliResult r, _) = Trace(daemon, interruptAfter: 2, "--pid", "4242");

        Assert.Matches(@"^ +4250 new +1 burst .*\n +4250 new +2 burst .*\n$", r.Out[Header.Length..]);
        Assert.Equal("agentsched: trace: 2 steps shown, 0 not shown\n", r.Err);
    }

    [Fact]
    public void StepsNStopsAfterNStepsWithoutPollingAgain()
    {
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 1, Step(1, 1_000))),
            Answer(8_000, Thread(4242, "agent", 6, Step(2, 4_000), Step(3, 5_000), Step(4, 6_000), Step(5, 7_000), Step(6, 7_500))));

        (CliResult r, List<TimeSpan> waits) = Trace(daemon, interruptAfter: 50, "--pid", "4242", "--steps", "3", "--interval", "50ms");

        Assert.Equal(0, r.Code);
        Assert.Equal(1 + 3, r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("   4242 agent                  4 burst", r.Out);
        Assert.DoesNotContain("   4242 agent                  5 burst", r.Out);
        Assert.Equal("agentsched: trace: 3 steps shown, 0 not shown\n", r.Err);
        Assert.Equal([TimeSpan.FromMilliseconds(50)], waits);
        Assert.Equal(2, daemon.Requests);
    }

    [Fact]
    public void JsonPrintsOneObjectPerStepAndPerGapWithoutAHeader()
    {
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 1, Step(1, 1_000))),
            Answer(8_000, Thread(4242, "agent", 4, Step(3, 5_000), Step(4, 6_000, "batch", 9_000_123, 12_345, 8_987_778, cpu: 3, hit: false, migrations: 2, preemptions: 1, demoted: true))));

        (CliResult r, _) = Trace(daemon, interruptAfter: 2, "--pid", "4242", "--json");

        Assert.Equal(0, r.Code);
        JsonElement[] lines = [.. r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
        Assert.Equal(3, lines.Length);
        Assert.Equal(
            """{"type":"gap","tid":4242,"comm":"agent","missed":1,"first_seq":2,"last_seq":2}""",
            JsonSerializer.Serialize(lines[0]));
        Assert.Equal(
            """{"type":"step","tid":4242,"comm":"agent","seq":4,"end_ns":6000,"class":"batch","total_ns":9000123,"wait_ns":12345,"run_ns":8987778,"cpu":3,"home_cpu":1,"home_hit":false,"migrations":2,"preemptions":1,"demoted":true}""",
            JsonSerializer.Serialize(lines[2]));
        // Every field of the protocol's record is there, with the daemon's values.
        using JsonDocument sent = JsonDocument.Parse(Step(3, 5_000));
        foreach (JsonProperty field in sent.RootElement.EnumerateObject())
        {
            Assert.Equal(field.Value.GetRawText(), lines[1].GetProperty(field.Name).GetRawText());
        }
        Assert.Equal("agentsched: trace: 2 steps shown, 1 not shown\n", r.Err);
    }

    [Fact]
    public void AProcessThatExitsMidTraceEndsItCleanly()
    {
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 1, Step(1, 1_000))),
            Answer(8_000, Thread(4242, "agent", 2, Step(2, 4_000))),
            Refusal("no_such_process", "no process or thread with id 4242"));

        (CliResult r, _) = Trace(daemon, interruptAfter: 50, "--pid", "4242");

        Assert.Equal(0, r.Code);
        Assert.Equal(2, r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal("agentsched: trace: pid 4242 exited\nagentsched: trace: 1 step shown, 0 not shown\n", r.Err);
        Assert.Equal(3, daemon.Requests);
    }

    [Theory]
    [InlineData("no_such_process", "no process or thread with id 4242")]
    [InlineData("permission_denied", "uid 1000 may only trace its own processes; pid 4242 belongs to uid 0")]
    public void ARefusedFirstPollIsAnError(string code, string message)
    {
        using FakeDaemon daemon = Script(Refusal(code, message));

        (CliResult r, List<TimeSpan> waits) = Trace(daemon, interruptAfter: 50, "--pid", "4242");

        Assert.Equal(((int)ReturnCode.Error, "", $"agentsched: trace: {code}: {message}\n"), (r.Code, r.Out, r.Err));
        Assert.Empty(waits);
    }

    [Fact]
    public void NotTracingSaysWhy()
    {
        using FakeDaemon daemon = Script(Refusal("not_tracing", "no steps are recorded"));

        (CliResult r, _) = Trace(daemon, interruptAfter: 50, "--pid", "4242");

        Assert.Equal(((int)ReturnCode.Error, ""), (r.Code, r.Out));
        Assert.Equal("agentsched: trace: not_tracing: agentschedd records no steps: it is in fallback mode (see agentsched status), or runs with Scheduler:TraceSteps=false\n", r.Err);
    }

    [Fact]
    public async Task AFallbackDaemonIsNotTracing()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

        CliResult r = CliHarness.Run("trace", "--pid", Environment.ProcessId.ToString(), "--socket", daemon.SocketPath);

        Assert.Equal((int)ReturnCode.Error, r.Code);
        Assert.StartsWith("agentsched: trace: not_tracing: ", r.Err);
    }

    [Fact]
    public void ADaemonThatGoesAwayMidTraceExits3AfterTheSummary()
    {
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 1, Step(1, 1_000))),
            Answer(8_000, Thread(4242, "agent", 2, Step(2, 4_000))));
        int polls = 0;
        var environment = new CliEnvironment
        {
            ReadKernel = () => CliHarness.NoSchedExt,
            Delay = (_, _) =>
            {
                if (++polls == 2) daemon.Dispose(); // it stops after answering two polls
                return Task.CompletedTask;
            },
            OutputIsTerminal = false,
        };

        CliResult r = CliHarness.Run(environment, "trace", "--pid", "4242", "--socket", daemon.SocketPath);

        Assert.Equal((int)ReturnCode.DaemonUnavailable, r.Code);
        Assert.Equal(2, r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith($"agentsched: trace: 1 step shown, 0 not shown\nagentsched: agentschedd is not reachable at {daemon.SocketPath}: ", r.Err);
    }

    [Fact]
    public async Task TheRealBinaryStopsCleanlyOnASignal()
    {
        // SIGTERM takes the path of Ctrl-C (a SIGINT may be ignored by a test runner started in the background).
        using FakeDaemon daemon = Script(
            Answer(3_000, Thread(4242, "agent", 1, Step(1, 1_000))),
            Answer(8_000, Thread(4242, "agent", 2, Step(2, 4_000))));
        using Process trace = Process.Start(ProcessRunner.StartInfo(RepoPaths.Cli, "trace", "--pid", "4242", "--interval", "10ms", "--socket", daemon.SocketPath))!;
        Task<string> stderr = trace.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);

        string? header = await trace.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
        string? step = await trace.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, Kill(trace.Id, Signals.SIGTERM));
        string rest = await trace.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await trace.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(Header, header + "\n");
        Assert.StartsWith("   4242 agent                  2 burst", step);
        Assert.Equal("", rest);
        Assert.Equal((0, "agentsched: trace: 1 step shown, 0 not shown\n"), (trace.ExitCode, await stderr));
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Fact]
    public void AnAbsentDaemonExits3()
    {
        CliResult r = CliHarness.Run("trace", "--pid", "4242", "--socket", "/nonexistent/s.sock");

        Assert.Equal(((int)ReturnCode.DaemonUnavailable, ""), (r.Code, r.Out));
        Assert.StartsWith("agentsched: agentschedd is not reachable at /nonexistent/s.sock", r.Err);
    }

    [Fact]
    public void WithNoStepsYetItSaysSoAndWaits()
    {
        using FakeDaemon daemon = Script(Answer(3_000), Answer(8_000, Thread(4242, "agent", 1, Step(1, 5_000))));

        (CliResult r, _) = Trace(daemon, interruptAfter: 2, "--pid", "4242");

        Assert.Equal(0, r.Code);
        Assert.StartsWith(Header + "   4242 agent                  1 burst", r.Out);
        Assert.Equal("agentsched: trace: no thread of 4242 has recorded a step yet (steps are recorded for marked tasks); waiting for one\nagentsched: trace: 1 step shown, 0 not shown\n", r.Err);
    }

    [Theory]
    [InlineData("agentsched: Option '--pid' is required.", "trace")]
    [InlineData("agentsched: --pid: 'abc' is not a process id (a positive integer)", "trace", "--pid", "abc")]
    [InlineData("agentsched: --pid: '0' is not a process id (a positive integer)", "trace", "--pid", "0")]
    [InlineData("agentsched: --steps: '0' is not a positive integer", "trace", "--pid", "1", "--steps", "0")]
    [InlineData("agentsched: --interval: '200' has no unit (write 200ms, 200s or 200us)", "trace", "--pid", "1", "--interval", "200")]
    [InlineData("agentsched: --interval: 5ms is out of range (10ms to 1m)", "trace", "--pid", "1", "--interval", "5ms")]
    public void BadArgumentsAreUsageErrors(string error, params string[] args)
    {
        CliResult r = CliHarness.Run(args);

        Assert.Equal((int)ReturnCode.UsageError, r.Code);
        Assert.StartsWith(error + "\n", r.Err);
    }

    [Theory]
    [InlineData(0, "0 ns")]
    [InlineData(850, "850 ns")]
    [InlineData(1_000, "1.00 us")]
    [InlineData(41_000, "41.0 us")]
    [InlineData(999_400, "999 us")]
    [InlineData(999_600, "1.00 ms")]
    [InlineData(2_310_000, "2.31 ms")]
    [InlineData(120_000_000, "120 ms")]
    [InlineData(1_500_000_000, "1.50 s")]
    [InlineData(125_000_000_000, "125 s")]
    public void TimesHaveThreeDigitsAndAUnit(long ns, string text)
    {
        Assert.Equal(text, TraceCommand.Table.Time(ns));
    }
}
