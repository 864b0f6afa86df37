namespace AgentSched.Daemon.Systemd;

/// <summary>
/// Tells the service manager how the daemon is doing (the sd_notify protocol): "READY=1",
/// "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...". Behind an interface so tests can see
/// what was sent.
/// </summary>
public interface ISystemdNotifier
{
    /// <summary>True when $NOTIFY_SOCKET names a socket to notify (the daemon runs under systemd with Type=notify).</summary>
    bool IsEnabled { get; }

    /// <summary>
    /// Sends <paramref name="state"/> (one or more newline-separated assignments) as one datagram.
    /// Does nothing when <see cref="IsEnabled"/> is false; never throws.
    /// </summary>
    void Notify(string state);
}
