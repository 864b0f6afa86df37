using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using AgentSched.Protocol;
using AgentSched.Tests;
using Microsoft.Extensions.Logging;

// Step windows apply to this whole test process: tests must not overlap.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace AgentSched.Client.Tests;

/// <summary>
/// AgentSchedClient against a real agentschedd in fallback mode. What the client did is observed
/// independently: through a separate raw connection's <c>status</c>, and in /proc.
/// </summary>
public sealed class ClientTests : IAsyncLifetime
{
    private readonly DaemonProcess _daemon = DaemonProcess.Start();
    private readonly ChildProcesses _children = new();

    public async ValueTask InitializeAsync() => await _daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

    public ValueTask DisposeAsync()
    {
        _children.Dispose();
        _daemon.Dispose();
        return ValueTask.CompletedTask;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private AgentSchedClient Client(DaemonUnavailableBehavior when = DaemonUnavailableBehavior.Throw, ILogger? logger = null, string? socket = null) =>
        new(new AgentSchedClientOptions { SocketPath = socket ?? _daemon.SocketPath, WhenUnavailable = when, Logger = logger, CliPath = RepoPaths.Cli });

    private int Sleeper() => _children.Sleeper();

    /// <summary>BURST/BATCH/NORMAL counts from the daemon's status over a connection of its own.</summary>
    private static async Task<(int Burst, int Batch)> Marks(string socket)
    {
        using ApiConnection c = await ApiConnection.OpenAsync(socket);
        JsonElement marks = (await c.CallAsync("{\"v\":1,\"op\":\"status\"}")).GetProperty("marks");
        return (marks.GetProperty("burst").GetInt32(), marks.GetProperty("batch").GetInt32());
    }

    [Fact]
    public async Task AStepScopeOpensAWindowAndDisposingItClosesIt()
    {
        using AgentSchedClient client = Client();
        string self = $"/proc/{Environment.ProcessId}/stat";

        StepScope step = await client.BeginStepAsync(TimeSpan.FromSeconds(30), cancellationToken: Ct);
        (int Burst, int Batch) during = await Marks(_daemon.SocketPath);
        (int Nice, int Policy) schedDuring = ProcStat.SchedAt(self);
        // A thread started during the step inherits its creator's nice -10 (a thread pool grows
        // this way); the daemon never saw it, and closing the step must put it back too.
        using var release = new ManualResetEventSlim();
        int tid = 0;
        var started = new Thread(() => { tid = NativeThread.CurrentTid(); release.Wait(); }) { IsBackground = true };
        (int Nice, int Policy) startedDuring, startedAfter;
        try
        {
            started.Start();
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref tid) != 0, TimeSpan.FromSeconds(10)));
            startedDuring = ProcStat.SchedAt($"/proc/self/task/{tid}/stat");
            await step.DisposeAsync();
            startedAfter = ProcStat.SchedAt($"/proc/self/task/{tid}/stat");
        }
        finally
        {
            release.Set();
        }
        started.Join();

        Assert.True(step.Applied);
        Assert.Equal((1, 0), during);
        Assert.Equal((-10, 0), schedDuring); // the fallback's BURST on this process
        Assert.Equal((-10, 0), startedDuring);
        Assert.Equal((0, 0), await Marks(_daemon.SocketPath));
        Assert.Equal((0, 0), ProcStat.SchedAt(self));
        Assert.Equal((0, 0), startedAfter);
    }

    [Fact]
    public async Task AThreadStepCoversOnlyTheCallingThread()
    {
        using AgentSchedClient client = Client();
        int tid = 0;
        (int, int) thread = default, main = default;
        var worker = new Thread(() =>
        {
            using StepScope step = client.BeginStep(TimeSpan.FromSeconds(30), currentThreadOnly: true);
            tid = NativeThread.CurrentTid();
            thread = ProcStat.SchedAt($"/proc/self/task/{tid}/stat");
            main = ProcStat.SchedAt($"/proc/self/task/{Environment.ProcessId}/stat");
        });
        worker.Start();
        worker.Join();

        Assert.Equal(-10, thread.Item1);
        Assert.Equal(0, main.Item1);
        Assert.Equal((0, 0), await Marks(_daemon.SocketPath));
    }

    [Fact]
    public async Task AWindowEndsByItselfAndDisposingAfterwardsIsHarmless()
    {
        using AgentSchedClient client = Client();

        StepScope step = await client.BeginStepAsync(TimeSpan.FromMilliseconds(300), cancellationToken: Ct);
        await _daemon.WaitUntilAsync(() => Marks(_daemon.SocketPath).Result.Burst == 0, TimeSpan.FromSeconds(10), "the window's end");
        step.Dispose();

        Assert.Equal((0, 0), ProcStat.SchedAt($"/proc/{Environment.ProcessId}/stat"));
    }

    [Fact]
    public async Task MarkAndUnmarkReportWhatTheDaemonDid()
    {
        using AgentSchedClient client = Client();
        int pid = Sleeper();

        MarkResult marked = await client.MarkAsync(pid, TaskClass.Batch, TimeSpan.FromSeconds(20), cancellationToken: Ct);
        (int, int) sched = ProcStat.SchedAt($"/proc/{pid}/stat");
        UnmarkResult unmarked = await client.UnmarkAsync(pid, cancellationToken: Ct);

        Assert.Equal((true, pid, TaskClass.Batch), (marked.Applied, marked.Pid, marked.Class));
        Assert.InRange(marked.WindowLeft!.Value.TotalSeconds, 19, 20);
        Assert.Equal((10, 3), sched);
        Assert.Equal(new UnmarkResult(true, pid, TaskClass.Batch), unmarked);
        Assert.Equal((0, 0), ProcStat.SchedAt($"/proc/{pid}/stat"));
    }

    [Fact]
    public async Task ARefusalThrowsItsCodeWhateverTheUnavailabilitySetting()
    {
        using AgentSchedClient client = Client(DaemonUnavailableBehavior.Ignore);

        var e = await Assert.ThrowsAsync<AgentSchedException>(() => client.MarkAsync(999_999_999, TaskClass.Burst, cancellationToken: Ct));

        Assert.Equal(ErrorCode.NoSuchProcess, e.Code);
        Assert.Equal("no process with pid 999999999", e.Detail);
        Assert.Throws<ArgumentOutOfRangeException>(() => client.MarkAsync(1, TaskClass.Burst, TimeSpan.FromHours(2), cancellationToken: Ct).GetAwaiter().GetResult());
    }

    [Fact]
    public async Task StatusIsParsed()
    {
        using AgentSchedClient client = Client();

        DaemonStatus status = (await client.StatusAsync(cancellationToken: Ct))!;

        Assert.Equal(("fallback", true, _daemon.Pid), (status.Mode, status.Healthy, status.DaemonPid));
        Assert.Null(status.LastEjection);
        Assert.Equal(0, status.Marks[TaskClass.Burst]);
    }

    [Fact]
    public async Task AFallbackDaemonRecordsNoSteps()
    {
        using AgentSchedClient client = Client(DaemonUnavailableBehavior.Ignore);

        var e = await Assert.ThrowsAsync<AgentSchedException>(() => client.StepsAsync(Environment.ProcessId, cancellationToken: Ct));

        Assert.Equal(ErrorCode.NotTracing, e.Code);
        Assert.Contains("Scheduler:TraceSteps", e.Detail);
    }

    [Fact]
    public async Task ItReconnectsAfterTheDaemonRestarts()
    {
        using AgentSchedClient client = Client();
        int pid = Sleeper();
        Assert.True((await client.MarkAsync(pid, TaskClass.Batch, cancellationToken: Ct)).Applied);

        _daemon.Signal(Signals.SIGTERM);
        Assert.Equal(0, await _daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        using DaemonProcess second = DaemonProcess.Start(_daemon.Directory);
        await second.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        MarkResult again = await client.MarkAsync(pid, TaskClass.Burst, cancellationToken: Ct);

        Assert.Equal((true, TaskClass.Burst), (again.Applied, again.Class));
        Assert.Equal((-10, 0), ProcStat.SchedAt($"/proc/{pid}/stat"));
        Assert.Equal((1, 0), await Marks(second.SocketPath));
    }

    [Fact]
    public async Task SixteenThreadsShareOneClient()
    {
        using AgentSchedClient client = Client();
        int[] pids = [.. Enumerable.Range(0, 16).Select(_ => Sleeper())];
        // What unmark must restore: a child starts with the nice of the thread that forked it, and
        // an earlier test may have left a thread-pool thread of this process reniced.
        Dictionary<int, (int, int)> before = pids.ToDictionary(pid => pid, pid => ProcStat.SchedAt($"/proc/{pid}/stat"));
        const int Rounds = 25;
        var errors = new List<Exception>();

        Thread[] threads = [.. pids.Select((pid, i) => new Thread(() =>
        {
            try
            {
                for (int r = 0; r < Rounds; r++)
                {
                    TaskClass c = (i + r) % 2 == 0 ? TaskClass.Burst : TaskClass.Batch;
                    MarkResult m = client.MarkAsync(pid, c).GetAwaiter().GetResult();
                    if (m.Pid != pid || m.Class != c) throw new InvalidOperationException($"thread {i} got {m} for {pid} {c}");
                    if (client.StatusAsync().GetAwaiter().GetResult() is null) throw new InvalidOperationException("no status");
                    UnmarkResult u = client.UnmarkAsync(pid).GetAwaiter().GetResult();
                    if (u.Pid != pid || u.Was != c) throw new InvalidOperationException($"thread {i} got {u} for {pid} {c}");
                }
            }
            catch (Exception e)
            {
                lock (errors) errors.Add(e);
            }
        }))];
        foreach (Thread t in threads) t.Start();
        foreach (Thread t in threads) t.Join();

        Assert.Empty(errors);
        Assert.Equal((0, 0), await Marks(_daemon.SocketPath));
        Assert.All(pids, pid => Assert.Equal(before[pid], ProcStat.SchedAt($"/proc/{pid}/stat")));
        using ApiConnection raw = await ApiConnection.OpenAsync(_daemon.SocketPath);
        JsonElement ops = (await raw.CallAsync("{\"v\":1,\"op\":\"stats\"}")).GetProperty("api").GetProperty("ops");
        Assert.Equal(16 * Rounds, ops.GetProperty("mark").GetInt64());
        Assert.Equal(16 * Rounds, ops.GetProperty("unmark").GetInt64());
    }

    [Fact]
    public async Task WithoutADaemonCallsAreNoOpsWithOneWarningPerOutage()
    {
        string dir = DaemonProcess.NewDirectory();
        var logger = new ListLogger();
        using AgentSchedClient client = Client(DaemonUnavailableBehavior.Ignore, logger, Path.Combine(dir, "agentsched.sock"));
        int pid = Sleeper();

        MarkResult first = await client.MarkAsync(pid, TaskClass.Burst, cancellationToken: Ct);
        StepScope step = await client.BeginStepAsync(cancellationToken: Ct);
        step.Dispose();
        DaemonStatus? status = await client.StatusAsync(cancellationToken: Ct);
        int warningsWhileDown = logger.Warnings.Count;

        using (DaemonProcess daemon = DaemonProcess.Start(dir))
        {
            await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
            Assert.True((await client.MarkAsync(pid, TaskClass.Burst, cancellationToken: Ct)).Applied);
        }
        await client.UnmarkAsync(pid, cancellationToken: Ct); // the daemon is gone again: a second outage

        Assert.Equal(new MarkResult(false, pid, null, null), first);
        Assert.False(step.Applied);
        Assert.Null(status);
        Assert.Equal(1, warningsWhileDown);
        Assert.Equal(2, logger.Warnings.Count);
        Assert.StartsWith($"agentschedd is not reachable at {dir}/agentsched.sock: no such socket", logger.Warnings[0]);
        Assert.EndsWith("; continuing without scheduling hints", logger.Warnings[0]);
    }

    [Fact]
    public async Task WithThrowAnAbsentDaemonIsAnException()
    {
        using AgentSchedClient client = Client(socket: "/nonexistent/agentsched.sock");

        var e = await Assert.ThrowsAsync<AgentSchedUnavailableException>(() => client.StatusAsync(cancellationToken: Ct));

        Assert.Equal(AgentSchedUnavailableException.CodeName, e.Code);
        Assert.Equal("/nonexistent/agentsched.sock", e.SocketPath);
        Assert.StartsWith("no such socket, nor its directory", e.Reason);
        Assert.False(await client.PingAsync(cancellationToken: Ct));
    }

    [Fact]
    public void TheBlockingCallsDoTheSame()
    {
        using AgentSchedClient client = Client();
        int pid = Sleeper();

        MarkResult marked = client.Mark(pid, TaskClass.Batch);
        (int, int) sched = ProcStat.SchedAt($"/proc/{pid}/stat");
        UnmarkResult unmarked = client.Unmark(pid);

        Assert.Equal(new MarkResult(true, pid, TaskClass.Batch, null), marked);
        Assert.Equal((10, 3), sched);
        Assert.Equal(new UnmarkResult(true, pid, TaskClass.Batch), unmarked);
        Assert.True(client.Ping());
        Assert.Equal(ErrorCode.NoSuchProcess, Assert.Throws<AgentSchedException>(() => client.Mark(999_999_999, TaskClass.Burst)).Code);
    }

    [Fact]
    public async Task ADaemonThatDoesNotAnswerTimesOutOnBothPaths()
    {
        // A socket that accepts connections and never answers stands in for a hung daemon.
        string path = Path.Combine(DaemonProcess.NewDirectory(), "hung.sock");
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        listener.Listen();
        using var client = new AgentSchedClient(new AgentSchedClientOptions { SocketPath = path, WhenUnavailable = DaemonUnavailableBehavior.Throw, RequestTimeout = TimeSpan.FromMilliseconds(300) });

        var clock = Stopwatch.StartNew();
        var blocking = Assert.Throws<AgentSchedUnavailableException>(() => client.Mark(Environment.ProcessId, TaskClass.Burst));
        var async = await Assert.ThrowsAsync<AgentSchedUnavailableException>(() => client.MarkAsync(Environment.ProcessId, TaskClass.Burst, cancellationToken: Ct));

        Assert.Equal("no answer within 0.3 s", blocking.Reason);
        Assert.Equal("no answer within 0.3 s", async.Reason);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.5, 10);
    }

    [Fact]
    public async Task ACallCancelledInTheQueueLeavesTheCallInFlightAlone()
    {
        // The first call holds the connection for 300 ms; the second, queued behind it, is
        // cancelled at 100 ms. The connection is the first call's: it must get its answer.
        using var daemon = new FakeDaemon("""{"v":1,"ok":true}""", TimeSpan.FromMilliseconds(300));
        using var client = new AgentSchedClient(new AgentSchedClientOptions { SocketPath = daemon.SocketPath, WhenUnavailable = DaemonUnavailableBehavior.Throw });
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        Task<bool> first = client.PingAsync(Ct);
        await Task.Delay(50, Ct);
        Task<DaemonStatus?> second = client.StatusAsync(cancel.Token);
        cancel.CancelAfter(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.True(await first);
        Assert.True(await client.PingAsync(Ct));
        Assert.Equal((1, 2), (daemon.Connections, daemon.Requests)); // nothing was sent twice, and the connection was never dropped
    }

    [Fact]
    public void ADaemonThatNeverAcceptsTimesOutTheBlockingConnect()
    {
        // Nothing accepts, so once the backlog is full connect(2) blocks: SO_SNDTIMEO must bound it.
        using var daemon = new FakeDaemon("", TimeSpan.Zero, backlog: 0, accept: false);
        var fillers = new List<System.Net.Sockets.Socket>();
        try
        {
            while (fillers.Count < 64)
            {
                var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified) { Blocking = false };
                fillers.Add(s);
                try
                {
                    s.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(daemon.SocketPath));
                }
                catch (System.Net.Sockets.SocketException)
                {
                    break; // EAGAIN: the backlog is full
                }
            }
            using var client = new AgentSchedClient(new AgentSchedClientOptions { SocketPath = daemon.SocketPath, WhenUnavailable = DaemonUnavailableBehavior.Throw, RequestTimeout = TimeSpan.FromMilliseconds(300) });

            var clock = Stopwatch.StartNew();
            var e = Assert.Throws<AgentSchedUnavailableException>(() => client.Mark(Environment.ProcessId, TaskClass.Burst));

            Assert.StartsWith("no answer within 0.3 s", e.Reason);
            Assert.InRange(clock.Elapsed.TotalSeconds, 0.2, 10);
        }
        finally
        {
            foreach (var s in fillers) s.Dispose();
        }
    }

    /// <summary>A shell that prints its pid and its own "nice policy" before anything else, then exits 5.</summary>
    private const string ReportSelf = "read -r s < /proc/$$/stat; set -- ${s##*) }; shift 16; n=$1; shift 22; echo \"$$ $n $1\"; exit 5";

    [Fact]
    public async Task StartProcessStartsTheToolAlreadyClassified()
    {
        using AgentSchedClient client = Client();
        var psi = new ProcessStartInfo("sh") { RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(ReportSelf);

        using Process tool = client.StartProcess(psi, TaskClass.Batch, TimeSpan.FromSeconds(30));
        string output = await tool.StandardOutput.ReadToEndAsync(Ct);
        await tool.WaitForExitAsync(Ct);

        Assert.Equal($"{tool.Id} 10 3\n", output); // the Process is the tool itself, SCHED_BATCH nice 10 from its first instruction
        Assert.Equal(5, tool.ExitCode);
        Assert.Equal(("sh", 2), (psi.FileName, psi.ArgumentList.Count)); // the caller's start info is not modified
    }

    [Fact]
    public async Task StartProcessKeepsAnArgumentString()
    {
        using AgentSchedClient client = Client();
        var psi = new ProcessStartInfo("printf", "\"[%s]\" \"a b\" c\\\\d \"q\\\"uote\"") { RedirectStandardOutput = true };

        using Process tool = client.StartProcess(psi, TaskClass.Burst);
        string output = await tool.StandardOutput.ReadToEndAsync(Ct);
        await tool.WaitForExitAsync(Ct);

        Assert.Equal("[a b][c\\\\d][q\"uote]", output);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("with space")]
    [InlineData("quote\"inside")]
    [InlineData("trailing\\")]
    [InlineData("back\\\\\"slash")]
    [InlineData("")]
    public async Task QuotedArgumentsComeBackUnchanged(string argument)
    {
        using var p = Process.Start(new ProcessStartInfo("printf", "\"[%s]\" " + AgentSchedClient.QuoteArgument(argument)) { RedirectStandardOutput = true })!;
        string output = await p.StandardOutput.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);

        Assert.Equal($"[{argument}]", output);
    }

    [Fact]
    public async Task WithoutADaemonStartProcessRunsTheToolUnmarked()
    {
        var logger = new ListLogger();
        using AgentSchedClient client = Client(DaemonUnavailableBehavior.Ignore, logger, "/nonexistent/agentsched.sock");
        var psi = new ProcessStartInfo("sh") { RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(ReportSelf);

        using Process tool = client.StartProcess(psi, TaskClass.Batch);
        string output = await tool.StandardOutput.ReadToEndAsync(Ct);

        Assert.Equal($"{tool.Id} 0 0\n", output);
        Assert.Equal(["agentschedd is not reachable at /nonexistent/agentsched.sock: no such socket, nor its directory (agentschedd is not running or not installed; start it with: systemctl start agentsched); starting sh unmarked"], logger.Warnings);
        Assert.Throws<Win32Exception>(() => client.StartProcess(new ProcessStartInfo("no-such-tool-xyz"), TaskClass.Burst));
        Assert.Throws<Win32Exception>(() => client.StartProcess(new ProcessStartInfo("./no-such-tool-xyz"), TaskClass.Burst));
    }

    [Fact]
    public async Task TheSampleToolLoopRuns()
    {
        var psi = ProcessRunner.StartInfo(Path.Combine(RepoPaths.Root, "artifacts", "bin", "ToolLoop", "release", "ToolLoop"), "--socket", _daemon.SocketPath, "--steps", "3");
        psi.Environment["PATH"] = Path.Combine(RepoPaths.Root, "artifacts", "bin") + ":" + Environment.GetEnvironmentVariable("PATH");
        using Process sample = Process.Start(psi)!;
        string output = await sample.StandardOutput.ReadToEndAsync(Ct);
        string errors = await sample.StandardError.ReadToEndAsync(Ct);
        await sample.WaitForExitAsync(Ct);

        Assert.Equal((0, ""), (sample.ExitCode, errors));
        Assert.Equal(3, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.EndsWith("(exit 0, step window open)", StringComparison.Ordinal)));
    }

    internal sealed class ListLogger : ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning) lock (Warnings) Warnings.Add(formatter(state, exception));
        }
    }
}
