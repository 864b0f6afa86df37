using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using AgentSched.Protocol;

namespace AgentSched.Cli;

/// <summary>Options shared by the commands, with their validation (one-line errors, exit 2 or 125).</summary>
internal static class CommonOptions
{
    public static Option<TaskClass> Class(TaskClass defaultClass) => new("--class", "-c")
    {
        Description = $"burst, batch or normal (default: {TaskClassNames.Name(defaultClass)}).",
        HelpName = "class",
        DefaultValueFactory = _ => defaultClass,
        CustomParser = result =>
        {
            string text = result.Tokens.Single().Value;
            if (TaskClassNames.TryParse(text.ToLowerInvariant(), out TaskClass c)) return c;
            result.AddError($"--class: unknown class '{text}' (use burst, batch or normal)");
            return default;
        },
    };

    public static Option<TimeSpan?> Window(string description) => new("--window", "-w")
    {
        Description = description,
        HelpName = "duration",
        CustomParser = result => ParseDuration(result, "--window", TimeSpan.FromMilliseconds(ApiProtocol.MinWindowMs), TimeSpan.FromMilliseconds(ApiProtocol.MaxWindowMs), "1ms to 1h"),
    };

    public static Option<TimeSpan?> Budget() => new("--budget")
    {
        Description = "BURST CPU per step before demotion, 100us to 1s (default: the scheduler's, 8ms).",
        HelpName = "duration",
        CustomParser = result => ParseDuration(result, "--budget", TimeSpan.FromMicroseconds(ApiProtocol.MinBudgetUs), TimeSpan.FromMicroseconds(ApiProtocol.MaxBudgetUs), "100us to 1s"),
    };

    public static Option<int?> HomeCpu() => new("--home-cpu")
    {
        Description = "The CPU BURST wakeups prefer (default: learned from where the task runs).",
        HelpName = "cpu",
        CustomParser = result =>
        {
            string text = result.Tokens.Single().Value;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int cpu)) return cpu;
            result.AddError($"--home-cpu: '{text}' is not a CPU number (0 or more)");
            return null;
        },
    };

    public static Option<bool> Json(string what) => new("--json") { Description = $"Print {what} as JSON (docs/cli.md)." };

    /// <summary>A process id argument: positive integers, with a one-line error for anything else.</summary>
    public static Argument<int[]> Pids(string description) => new("pid")
    {
        Description = description,
        Arity = ArgumentArity.OneOrMore,
        CustomParser = result =>
        {
            var pids = new List<int>();
            foreach (Token t in result.Tokens)
            {
                if (int.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0)
                {
                    pids.Add(pid);
                }
                else
                {
                    result.AddError($"'{t.Value}' is not a process id (a positive integer)");
                }
            }
            return [.. pids];
        },
    };

    /// <summary>A duration with a unit, within [<paramref name="min"/>, <paramref name="max"/>]; else a one-line error naming the option.</summary>
    internal static TimeSpan? ParseDuration(ArgumentResult result, string name, TimeSpan min, TimeSpan max, string range)
    {
        string text = result.Tokens.Single().Value;
        if (!Durations.TryParse(text, out TimeSpan value, out string error))
        {
            result.AddError($"{name}: {error}");
            return null;
        }
        if (value < min || value > max)
        {
            result.AddError($"{name}: {text} is out of range ({range})");
            return null;
        }
        return value;
    }
}
