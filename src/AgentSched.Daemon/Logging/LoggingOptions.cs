using Microsoft.Extensions.Options;
using Serilog.Events;

namespace AgentSched.Daemon.Logging;

/// <summary>The "Logging" configuration section (see <see cref="DaemonLogging"/>).</summary>
public sealed class LoggingOptions
{
    public const string Section = "Logging";

    /// <summary><c>text</c> (one human-readable line per event) or <c>json</c> (one JSON object per line).</summary>
    public string Format { get; set; } = "text";

    /// <summary>The minimum level logged: <c>Debug</c> (every request), <c>Information</c>, <c>Warning</c> or <c>Error</c>.</summary>
    public string Level { get; set; } = "Information";

    internal static readonly string[] Formats = ["text", "json"];

    internal static readonly LogEventLevel[] Levels = [LogEventLevel.Debug, LogEventLevel.Information, LogEventLevel.Warning, LogEventLevel.Error];

    internal bool Json => string.Equals(Format, "json", StringComparison.OrdinalIgnoreCase);

    internal LogEventLevel ParsedLevel =>
        Levels.FirstOrDefault(l => string.Equals(l.ToString(), Level, StringComparison.OrdinalIgnoreCase), LogEventLevel.Information);
}

internal sealed class LoggingOptionsValidator : IValidateOptions<LoggingOptions>
{
    public ValidateOptionsResult Validate(string? name, LoggingOptions o)
    {
        var errors = new List<string>();
        if (!LoggingOptions.Formats.Contains(o.Format, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add($"Logging:Format must be text or json (got '{o.Format}')");
        }
        if (!LoggingOptions.Levels.Any(l => string.Equals(l.ToString(), o.Level, StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"Logging:Level must be Debug, Information, Warning or Error (got '{o.Level}')");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
