using AgentSched.Daemon.Systemd;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Tests.Systemd;

public sealed class SystemdNotifierTests
{
    private static readonly TimeSpan s_receiveTimeout = TimeSpan.FromSeconds(5);

    private static SystemdNotifier Notifier(string? notifySocket, ListLogger<SystemdNotifier>? logger = null) =>
        new(name => name == "NOTIFY_SOCKET" ? notifySocket : null, logger ?? new ListLogger<SystemdNotifier>());

    [Fact]
    public async Task SendsEachStateAsOneDatagramToASocketOnAPath()
    {
        using var listener = NotifyListener.OnPath();
        SystemdNotifier notifier = Notifier(listener.Address);

        Assert.True(notifier.IsEnabled);
        notifier.Notify("READY=1");
        notifier.Notify("WATCHDOG=1");
        notifier.Notify("STATUS=scheduling\nSTOPPING=1");

        Assert.Equal("READY=1", await listener.ReceiveAsync(s_receiveTimeout));
        Assert.Equal("WATCHDOG=1", await listener.ReceiveAsync(s_receiveTimeout));
        Assert.Equal("STATUS=scheduling\nSTOPPING=1", await listener.ReceiveAsync(s_receiveTimeout));
    }

    [Fact]
    public async Task AnAtSignNamesTheAbstractNamespace()
    {
        using var listener = NotifyListener.Abstract();
        // The kernel lists abstract names with '@' for the leading NUL: the bound name is exactly
        // the variable's value, with no trailing NUL (abstract names are compared byte for byte).
        Assert.Contains(File.ReadLines("/proc/net/unix"), line => line.EndsWith(" " + listener.Address, StringComparison.Ordinal));
        SystemdNotifier notifier = Notifier(listener.Address);

        Assert.True(notifier.IsEnabled);
        notifier.Notify("READY=1");
        notifier.Notify("WATCHDOG=1");
        notifier.Notify("STOPPING=1");

        Assert.Equal("READY=1", await listener.ReceiveAsync(s_receiveTimeout));
        Assert.Equal("WATCHDOG=1", await listener.ReceiveAsync(s_receiveTimeout));
        Assert.Equal("STOPPING=1", await listener.ReceiveAsync(s_receiveTimeout));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void WithoutNotifySocketItIsANoOp(string? value)
    {
        var logger = new ListLogger<SystemdNotifier>();
        SystemdNotifier notifier = Notifier(value, logger);

        Assert.False(notifier.IsEnabled);
        notifier.Notify("READY=1");

        Assert.Empty(logger.Entries);
    }

    [Fact]
    public void AnUnreachableSocketNeverThrowsAndWarnsOnce()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"agentsched-missing-{Guid.NewGuid():N}", "notify");
        var logger = new ListLogger<SystemdNotifier>();
        SystemdNotifier notifier = Notifier(missing, logger);

        Assert.True(notifier.IsEnabled);
        notifier.Notify("READY=1");
        notifier.Notify("WATCHDOG=1");
        notifier.Notify("WATCHDOG=1");

        var warning = Assert.Single(logger.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Contains("READY=1", warning.Message);
        Assert.Contains(missing, warning.Message);
        Assert.Equal(2, logger.Entries.Count(e => e.Level == LogLevel.Debug));
    }

    [Fact]
    public void AnAbstractNameNobodyListensOnNeverThrows()
    {
        var logger = new ListLogger<SystemdNotifier>();
        SystemdNotifier notifier = Notifier($"@agentsched-nobody-{Guid.NewGuid():N}", logger);

        notifier.Notify("READY=1");

        Assert.Single(logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Theory]
    [InlineData("vsock:2:1234")]
    [InlineData("relative/notify")]
    [InlineData("@")]
    public void AnAddressItCannotUseDisablesItWithOneWarning(string value)
    {
        var logger = new ListLogger<SystemdNotifier>();
        SystemdNotifier notifier = Notifier(value, logger);

        Assert.False(notifier.IsEnabled);
        notifier.Notify("READY=1");

        var warning = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(value, warning.Message);
    }

    [Fact]
    public void APathLongerThanSunPathDisablesItWithOneWarning()
    {
        var logger = new ListLogger<SystemdNotifier>();
        SystemdNotifier notifier = Notifier("/" + new string('x', 200), logger);

        Assert.False(notifier.IsEnabled);
        Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
    }
}
