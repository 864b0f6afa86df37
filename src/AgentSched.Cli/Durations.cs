using System.Globalization;

namespace AgentSched.Cli;

/// <summary>Durations on the command line: a number and a unit, <c>500us</c>, <c>50ms</c>, <c>2s</c>, <c>1m</c>.</summary>
internal static class Durations
{
    /// <summary>Parses <paramref name="text"/>; false with a one-line reason for anything else.</summary>
    public static bool TryParse(string text, out TimeSpan value, out string error)
    {
        value = default;
        int split = 0;
        while (split < text.Length && (char.IsAsciiDigit(text[split]) || text[split] is '.' or '-' or '+'))
        {
            split++;
        }
        string number = text[..split], unit = text[split..];
        if (number.Length == 0 || !double.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out double n) || double.IsNaN(n))
        {
            error = $"'{text}' is not a duration (write a number and a unit: 500us, 50ms, 2s, 1m)";
            return false;
        }
        double? scaleMs = unit switch
        {
            "us" or "µs" => 0.001,
            "ms" => 1,
            "s" => 1000,
            "m" or "min" => 60_000,
            "h" => 3_600_000,
            _ => null,
        };
        if (scaleMs is not { } scale)
        {
            error = unit.Length == 0
                ? $"'{text}' has no unit (write {text}ms, {text}s or {text}us)"
                : $"'{text}' has an unknown unit '{unit}' (use us, ms, s, m or h)";
            return false;
        }
        if (n <= 0)
        {
            error = $"'{text}' must be positive";
            return false;
        }
        if (n * scale > TimeSpan.FromDays(365).TotalMilliseconds)
        {
            error = $"'{text}' is longer than a year";
            return false;
        }
        value = TimeSpan.FromMilliseconds(n * scale);
        error = "";
        return true;
    }

    /// <summary>50 ms, 1.5 s, 2 min: how the CLI prints a duration.</summary>
    public static string Format(TimeSpan t) => t.TotalMilliseconds switch
    {
        < 1 => $"{t.TotalMicroseconds.ToString("0.#", CultureInfo.InvariantCulture)} us",
        < 1000 => $"{t.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture)} ms",
        < 60_000 => $"{t.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture)} s",
        _ => $"{t.TotalMinutes.ToString("0.##", CultureInfo.InvariantCulture)} min",
    };

    /// <summary>1h02m, 3m05s, 42s: an uptime.</summary>
    public static string FormatUptime(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{t.Seconds}s";
}
