using AgentSched.Daemon.Systemd;

namespace AgentSched.Daemon.Tests.Systemd;

public sealed class SystemdWatchdogServiceTests
{
    private static Func<string, string?> Env(string? usec, string? pid = null) => name => name switch
    {
        "WATCHDOG_USEC" => usec,
        "WATCHDOG_PID" => pid,
        _ => null,
    };

    private static SystemdWatchdogService Service(RecordingNotifier notifier, Func<string, string?> env, Func<bool>? healthy = null) =>
        new(notifier, env, healthy ?? (() => true), new ListLogger<SystemdWatchdogService>());

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("0", null, null)]
    [InlineData("soon", null, null)]
    [InlineData("-5", null, null)]
    [InlineData("30000000", null, 15_000.0)]
    [InlineData("30000000", "4242", 15_000.0)]
    [InlineData("30000000", "4243", null)]
    [InlineData("30000000", "init", null)]
    [InlineData("1", null, 1.0)]
    public void TheIntervalIsHalfOfWatchdogUsecForThisPidOnly(string? usec, string? pid, double? expectedMs)
    {
        TimeSpan? interval = SystemdWatchdogService.ReadInterval(Env(usec, pid), 4242);

        Assert.Equal(expectedMs, interval?.TotalMilliseconds);
    }

    [Fact]
    public void WatchdogPidOfThisProcessEnablesIt()
    {
        SystemdWatchdogService service = Service(new RecordingNotifier(), Env("200000", Environment.ProcessId.ToString()));

        Assert.Equal(TimeSpan.FromMilliseconds(100), service.Interval);
    }

    [Fact]
    public async Task PingsAtAboutTheRequestedInterval()
    {
        var notifier = new RecordingNotifier();
        using SystemdWatchdogService service = Service(notifier, Env("200000")); // a ping every 100 ms

        await service.StartAsync(TestContext.Current.CancellationToken);
        // Lenient on purpose: about 15 pings are due in 1.5 s; 2 proves the timer repeats.
        bool pinged = await Eventually.TrueWithin(TimeSpan.FromSeconds(1.5), () => notifier.Count("WATCHDOG=1") >= 2);
        await service.StopAsync(TestContext.Current.CancellationToken);

        Assert.True(pinged, $"{notifier.Count("WATCHDOG=1")} pings in 1.5 s with WATCHDOG_USEC=200000");
        Assert.All(notifier.Sent, s => Assert.Equal("WATCHDOG=1", s));
    }

    [Fact]
    public async Task StopsPingingWhileTheHealthCheckFailsAndResumesAfter()
    {
        var notifier = new RecordingNotifier();
        bool healthy = true;
        using SystemdWatchdogService service = Service(notifier, Env("200000"), () => Volatile.Read(ref healthy));

        await service.StartAsync(TestContext.Current.CancellationToken);
        Assert.True(await Eventually.TrueWithin(TimeSpan.FromSeconds(5), () => notifier.Count("WATCHDOG=1") >= 2));

        Volatile.Write(ref healthy, false);
        await Task.Delay(500, TestContext.Current.CancellationToken); // a tick already past its health check may still ping
        int whileUnhealthy = notifier.Count("WATCHDOG=1");
        await Task.Delay(700, TestContext.Current.CancellationToken); // seven intervals
        Assert.Equal(whileUnhealthy, notifier.Count("WATCHDOG=1"));

        Volatile.Write(ref healthy, true);
        Assert.True(await Eventually.TrueWithin(TimeSpan.FromSeconds(5), () => notifier.Count("WATCHDOG=1") > whileUnhealthy));
        await service.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task AHealthCheckThatThrowsCountsAsUnhealthy()
    {
        var notifier = new RecordingNotifier();
        using SystemdWatchdogService service = Service(notifier, Env("200000"), () => throw new InvalidOperationException("wedged"));

        await service.StartAsync(TestContext.Current.CancellationToken);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        await service.StopAsync(TestContext.Current.CancellationToken);

        Assert.Empty(notifier.Sent);
    }

    [Fact]
    public async Task WithoutWatchdogUsecOrNotifySocketItDoesNothing()
    {
        var notifier = new RecordingNotifier();
        using SystemdWatchdogService noWatchdog = Service(notifier, Env(null));
        var disabled = new RecordingNotifier(enabled: false);
        using SystemdWatchdogService noSocket = Service(disabled, Env("200000"));

        await noWatchdog.StartAsync(TestContext.Current.CancellationToken);
        await noSocket.StartAsync(TestContext.Current.CancellationToken);
        await Task.Delay(400, TestContext.Current.CancellationToken);
        await noWatchdog.StopAsync(TestContext.Current.CancellationToken);
        await noSocket.StopAsync(TestContext.Current.CancellationToken);

        Assert.Null(noWatchdog.Interval);
        Assert.Empty(notifier.Sent);
        Assert.Empty(disabled.Sent);
    }

    [Fact]
    public async Task PingsReachARealNotifySocket()
    {
        using var listener = NotifyListener.OnPath();
        var notifier = new SystemdNotifier(name => name == "NOTIFY_SOCKET" ? listener.Address : null, new ListLogger<SystemdNotifier>());
        using var service = new SystemdWatchdogService(notifier, Env("200000"), () => true, new ListLogger<SystemdWatchdogService>());

        await service.StartAsync(TestContext.Current.CancellationToken);
        string? first = await listener.ReceiveAsync(TimeSpan.FromSeconds(5));
        string? second = await listener.ReceiveAsync(TimeSpan.FromSeconds(5));
        await service.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal("WATCHDOG=1", first);
        Assert.Equal("WATCHDOG=1", second);
    }
}
