using System.Diagnostics;
using AgentSched.Daemon.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Tests.Systemd;

/// <summary>READY=1 / STOPPING=1 from a real host, SIGHUP as a reload, and the registration.</summary>
public sealed class SystemdLifetimeTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    /// <summary>A host with the systemd services, notifying <paramref name="notifier"/>, and one more hosted service.</summary>
    private static IHost Host(ISystemdNotifier notifier, IHostedService? other = null)
    {
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(notifier);
        builder.Services.AddSystemdNotify();
        if (other is not null)
        {
            builder.Services.AddSingleton(other);
        }
        return builder.Build();
    }

    [Fact]
    public async Task AHostSendsReadyAfterStartingAndStoppingWhenItStops()
    {
        using var listener = NotifyListener.OnPath();
        var notifier = new SystemdNotifier(name => name == "NOTIFY_SOCKET" ? listener.Address : null, new ListLogger<SystemdNotifier>());
        using IHost host = Host(notifier);

        await host.StartAsync(TestContext.Current.CancellationToken);
        Assert.Equal("READY=1", await listener.ReceiveAsync(s_timeout));
        await host.StopAsync(TestContext.Current.CancellationToken);
        Assert.Equal("STOPPING=1", await listener.ReceiveAsync(s_timeout));
        Assert.Null(await listener.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public async Task ReadyComesOnlyAfterEveryServiceStarted()
    {
        var notifier = new RecordingNotifier();
        var slow = new SlowStart(notifier);
        using IHost host = Host(notifier, slow);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["slow service started", "READY=1", "STOPPING=1"], notifier.Sent);
    }

    [Fact]
    public async Task AFailedStartNeverSendsReady()
    {
        var notifier = new RecordingNotifier();
        using IHost host = Host(notifier, new FailingStart());

        await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.DoesNotContain("READY=1", notifier.Sent);
    }

    [Fact]
    public void RegisteringTwiceAddsEachServiceOnce()
    {
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<ISystemdNotifier>(new RecordingNotifier());
        builder.Services.AddSystemdNotify();
        builder.Services.AddSystemdNotify();

        using IHost host = builder.Build();
        Type[] hosted = [.. host.Services.GetServices<IHostedService>().Select(s => s.GetType())];

        Assert.Equal(3, hosted.Length);
        Assert.Contains(typeof(SystemdLifetimeNotifications), hosted);
        Assert.Contains(typeof(SystemdWatchdogService), hosted);
        Assert.Contains(typeof(SighupReloadService), hosted);
        Assert.IsType<RecordingNotifier>(host.Services.GetRequiredService<ISystemdNotifier>());
    }

    [Fact]
    public async Task SighupReloadsInsteadOfKillingTheProcess()
    {
        var notifier = new RecordingNotifier();
        int reloads = 0;
        using var service = new SighupReloadService(notifier, () => Interlocked.Increment(ref reloads), new ListLogger<SighupReloadService>());
        await service.StartAsync(TestContext.Current.CancellationToken);

        // Unhandled, SIGHUP would end this test process (the runtime's default action).
        using (Process kill = Process.Start("kill", ["-HUP", Environment.ProcessId.ToString()]))
        {
            await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, kill.ExitCode);
        }

        Assert.True(await Eventually.TrueWithin(s_timeout, () => notifier.Sent.Length >= 2), $"sent: {string.Join(" | ", notifier.Sent)}");
        Assert.Equal(1, Volatile.Read(ref reloads));
        Assert.Matches(@"^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$", notifier.Sent[0]);
        Assert.Equal("READY=1", notifier.Sent[1]);
    }

    [Fact]
    public void AFailedReloadStillEndsTheReloadingState()
    {
        var notifier = new RecordingNotifier();
        var logger = new ListLogger<SighupReloadService>();
        using var service = new SighupReloadService(notifier, () => throw new FormatException("agentsched.json: bad JSON"), logger);

        service.Reload();

        Assert.StartsWith("RELOADING=1\n", notifier.Sent[0]);
        Assert.Equal("READY=1\nSTATUS=reload failed: agentsched.json: bad JSON", notifier.Sent[1]);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("bad JSON"));
    }

    [Fact]
    public void ARejectedReloadIsLoggedOnceAsRejectedAndNotAsReloaded()
    {
        var notifier = new RecordingNotifier();
        var logger = new ListLogger<SighupReloadService>();
        using var service = new SighupReloadService(notifier,
            () => throw new AgentSched.Daemon.Configuration.ConfigurationRejectedException("Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)"), logger);

        service.Reload();

        Assert.Equal("READY=1\nSTATUS=reload rejected: Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)", notifier.Sent[1]);
        Assert.Equal(
            [
                (LogLevel.Information, "SIGHUP: reloading the configuration"),
                (LogLevel.Error, "configuration reload rejected, the running configuration stays: Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)"),
            ],
            logger.Entries);
    }

    private sealed class SlowStart(RecordingNotifier notifier) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await Task.Delay(200, cancellationToken);
            notifier.Notify("slow service started");
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class FailingStart : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("attach failed");

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
