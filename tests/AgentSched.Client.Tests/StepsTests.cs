using System.Text.Json;
using AgentSched.Protocol;
using AgentSched.Tests;

namespace AgentSched.Client.Tests;

/// <summary><c>steps</c> against a scripted daemon: the request sent, the response parsed, refusals mapped.</summary>
public sealed class StepsTests
{
    /// <summary>What agentschedd answers for a process with two threads that recorded steps (docs/protocol.md).</summary>
    internal const string TwoThreads = """
        {"v":1,"ok":true,"pid":4242,"now_ns":90412345678,"threads":[
         {"tid":4242,"comm":"agent","steps":1234,"recent":[
          {"seq":1233,"end_ns":90410000000,"class":"burst","total_ns":2310000,"wait_ns":41000,"run_ns":2260000,"cpu":1,"home_cpu":1,"home_hit":true,"migrations":0,"preemptions":0,"demoted":false},
          {"seq":1234,"end_ns":90411000050,"class":"burst","total_ns":9000123,"wait_ns":12345,"run_ns":8987778,"cpu":3,"home_cpu":1,"home_hit":false,"migrations":2,"preemptions":1,"demoted":true}]},
         {"tid":4250,"comm":"tool worker","steps":7,"recent":[]}]}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static AgentSchedClient Client(string socket, DaemonUnavailableBehavior when = DaemonUnavailableBehavior.Throw, ClientTests.ListLogger? logger = null) =>
        new(new AgentSchedClientOptions { SocketPath = socket, WhenUnavailable = when, Logger = logger });

    private static string OneLine(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);

    [Fact]
    public async Task TheResponseIsParsedIntoThreadsAndSteps()
    {
        using var daemon = new FakeDaemon(OneLine(TwoThreads), TimeSpan.Zero);
        using AgentSchedClient client = Client(daemon.SocketPath);

        TaskStepsReport report = (await client.StepsAsync(4242, 90_400_000_000, Ct))!;

        Assert.Equal((4242, 90_412_345_678L, 2), (report.Pid, report.NowNs, report.Threads.Count));
        ThreadStepsReport main = report.Threads[0], worker = report.Threads[1];
        Assert.Equal((4242, "agent", 1234L, 2), (main.Tid, main.Comm, main.Steps, main.Recent.Count));
        Assert.Equal((4250, "tool worker", 7L), (worker.Tid, worker.Comm, worker.Steps));
        Assert.Empty(worker.Recent);
        Assert.Equal(new StepRecord(1233, 90_410_000_000, TaskClass.Burst, 2_310_000, 41_000, 2_260_000, 1, 1, true, 0, 0, false), main.Recent[0]);
        Assert.Equal(new StepRecord(1234, 90_411_000_050, TaskClass.Burst, 9_000_123, 12_345, 8_987_778, 3, 1, false, 2, 1, true), main.Recent[1]);
        Assert.Equal(TimeSpan.FromMicroseconds(9000.1), main.Recent[1].Total); // 100 ns ticks
        Assert.Equal(TimeSpan.FromMicroseconds(12.3), main.Recent[1].Wait);
        Assert.Equal(TimeSpan.FromMicroseconds(2260), main.Recent[0].Run);
        Assert.Equal(["""{"v":1,"op":"steps","pid":4242,"after_ns":90400000000}"""], daemon.RequestLines);
    }

    [Fact]
    public void TheBlockingCallSendsNoAfterNsWhenNoneIsGiven()
    {
        using var daemon = new FakeDaemon(OneLine(TwoThreads), TimeSpan.Zero);
        using AgentSchedClient client = Client(daemon.SocketPath);

        TaskStepsReport report = client.Steps(4250)!;
        client.Steps(4250, 0);

        Assert.Equal(1234, report.Threads[0].Recent[^1].Seq);
        Assert.Equal(["""{"v":1,"op":"steps","pid":4250}""", """{"v":1,"op":"steps","pid":4250,"after_ns":0}"""], daemon.RequestLines);
    }

    [Theory]
    [InlineData(ErrorCode.NotTracing, DaemonUnavailableBehavior.Throw)]
    [InlineData(ErrorCode.NotTracing, DaemonUnavailableBehavior.Ignore)]
    [InlineData(ErrorCode.NoSuchProcess, DaemonUnavailableBehavior.Ignore)]
    [InlineData(ErrorCode.PermissionDenied, DaemonUnavailableBehavior.Ignore)]
    public async Task ARefusalThrowsItsCodeWhateverTheUnavailabilitySetting(string code, DaemonUnavailableBehavior when)
    {
        using var daemon = new FakeDaemon($$$"""{"v":1,"ok":false,"error":{"code":"{{{code}}}","message":"told you"}}""", TimeSpan.Zero);
        using AgentSchedClient client = Client(daemon.SocketPath, when);

        var async = await Assert.ThrowsAsync<AgentSchedException>(() => client.StepsAsync(4242, cancellationToken: Ct));
        var blocking = Assert.Throws<AgentSchedException>(() => client.Steps(4242));

        Assert.Equal((code, "told you"), (async.Code, async.Detail));
        Assert.Equal(code, blocking.Code);
        Assert.IsNotType<AgentSchedUnavailableException>(async);
    }

    [Fact]
    public async Task AnUnavailableDaemonIsNullWithIgnoreAndAnExceptionWithThrow()
    {
        var logger = new ClientTests.ListLogger();
        using AgentSchedClient ignoring = Client("/nonexistent/agentsched.sock", DaemonUnavailableBehavior.Ignore, logger);
        using AgentSchedClient throwing = Client("/nonexistent/agentsched.sock");

        TaskStepsReport? async = await ignoring.StepsAsync(4242, cancellationToken: Ct);
        TaskStepsReport? blocking = ignoring.Steps(4242);

        Assert.Null(async);
        Assert.Null(blocking);
        Assert.Single(logger.Warnings); // one per outage
        var e = await Assert.ThrowsAsync<AgentSchedUnavailableException>(() => throwing.StepsAsync(4242, cancellationToken: Ct));
        Assert.StartsWith("no such socket", e.Reason);
    }

    [Fact]
    public async Task ADaemonShuttingDownIsUnavailable()
    {
        using var daemon = new FakeDaemon("""{"v":1,"ok":false,"error":{"code":"unavailable","message":"stopping"}}""", TimeSpan.Zero);
        using AgentSchedClient client = Client(daemon.SocketPath);

        var e = await Assert.ThrowsAsync<AgentSchedUnavailableException>(() => client.StepsAsync(4242, cancellationToken: Ct));

        Assert.Equal("the daemon is shutting down (stopping)", e.Reason);
    }

    [Theory]
    [InlineData("""{"v":1,"ok":true,"pid":4242,"threads":[]}""")]
    [InlineData("""{"v":1,"ok":true,"pid":4242,"now_ns":5,"threads":[{"tid":1,"comm":"x","steps":1,"recent":[{"seq":1}]}]}""")]
    [InlineData("""{"v":1,"ok":true,"pid":4242,"now_ns":5,"threads":[{"tid":1,"comm":"x","steps":1,"recent":[{"seq":1,"end_ns":1,"class":"urgent","total_ns":1,"wait_ns":0,"run_ns":1,"cpu":0,"home_cpu":-1,"home_hit":false,"migrations":0,"preemptions":0,"demoted":false}]}]}""")]
    public async Task AResponseWithoutTheFieldsIsABadResponse(string response)
    {
        using var daemon = new FakeDaemon(response, TimeSpan.Zero);
        using AgentSchedClient client = Client(daemon.SocketPath);

        var e = await Assert.ThrowsAsync<AgentSchedException>(() => client.StepsAsync(4242, cancellationToken: Ct));

        Assert.Equal("bad_response", e.Code);
    }

    [Fact]
    public async Task ArgumentsOutOfRangeAreRefusedBeforeAnythingIsSent()
    {
        using var daemon = new FakeDaemon(OneLine(TwoThreads), TimeSpan.Zero);
        using AgentSchedClient client = Client(daemon.SocketPath);

        Assert.Throws<ArgumentOutOfRangeException>(() => client.Steps(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => client.Steps(4242, -1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.StepsAsync(-3, cancellationToken: Ct));

        Assert.Equal(0, daemon.Connections);
    }
}
