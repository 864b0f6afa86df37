namespace AgentSched.Daemon.Systemd;

/// <summary>
/// Whether the daemon is healthy enough to keep pinging systemd's watchdog. Register one to let a
/// wedged daemon be restarted: <c>services.AddSingleton&lt;SystemdHealthCheck&gt;(sp =&gt; () =&gt; ...)</c>.
/// Without one the watchdog only proves the process is alive and its thread pool runs.
/// </summary>
public delegate bool SystemdHealthCheck();
