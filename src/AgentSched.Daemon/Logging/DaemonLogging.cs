using Serilog;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace AgentSched.Daemon.Logging;

/// <summary>
/// The daemon's Serilog setup. Logging:Format "text" (default) is one human-readable line per
/// event; "json" is one JSON object per line. Everything goes to stderr. Under systemd (stderr
/// connected to the journal: $JOURNAL_STREAM is set) each line starts with its syslog priority,
/// &lt;3&gt; for errors to &lt;7&gt; for debug, so journalctl -p works; the journal adds its own timestamps.
/// Logging:Level (Debug, Information, Warning, Error) sets the minimum level; Debug logs every request.
/// Both are validated with the rest of the configuration (<see cref="LoggingOptionsValidator"/>).
/// </summary>
internal static class DaemonLogging
{
    public static Serilog.ILogger Create(LoggingOptions options, bool journal)
    {
        LogEventLevel minimum = options.ParsedLevel;
        ITextFormatter inner = options.Json
            ? new JsonFormatter(renderMessage: true)
            : new MessageTemplateTextFormatter(
                journal ? "{Level:u3} {Message:lj}{NewLine}{Exception}" : "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}");
        return new LoggerConfiguration()
            .MinimumLevel.Is(minimum)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .WriteTo.Console(journal ? new SyslogPriorityFormatter(inner) : inner, standardErrorFromLevel: LogEventLevel.Verbose)
            .CreateLogger();
    }

    /// <summary>Prefixes each event with the sd-daemon priority journald parses from a stream.</summary>
    private sealed class SyslogPriorityFormatter(ITextFormatter inner) : ITextFormatter
    {
        public void Format(LogEvent logEvent, TextWriter output)
        {
            output.Write(logEvent.Level switch
            {
                LogEventLevel.Fatal => "<2>",
                LogEventLevel.Error => "<3>",
                LogEventLevel.Warning => "<4>",
                LogEventLevel.Information => "<6>",
                _ => "<7>",
            });
            inner.Format(logEvent, output);
        }
    }
}
