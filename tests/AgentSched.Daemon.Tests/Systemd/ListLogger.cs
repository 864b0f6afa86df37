using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Tests.Systemd;

/// <summary>Keeps every log entry so a test can assert what a person reading the journal would see.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public (LogLevel Level, string Message)[] Entries
    {
        get { lock (_entries) { return [.. _entries]; } }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
