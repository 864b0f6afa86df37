namespace AgentSched.Daemon.Configuration;

/// <summary>
/// Options that a reload (SIGHUP) may replace while the daemon runs. Unlike IOptionsMonitor, a
/// reload that fails validation never reaches readers: <see cref="ConfigReloader"/> swaps in a
/// new value only once it is valid.
/// </summary>
public sealed class LiveOptions<T>(T initial) where T : class
{
    private volatile T _current = initial;

    public T Current => _current;

    internal void Replace(T value) => _current = value;
}
