using System.Reflection;
using System.Text;

namespace AgentSched.Daemon.Configuration;

/// <summary>
/// agentschedd's command line: <c>--help</c> (or <c>-h</c>), <c>--version</c>, or configuration
/// keys as <c>--Section:Key=value</c> (or <c>--Section:Key value</c>). Anything else is an error
/// (exit 2), not ignored: a stray word or a single-dash option used to start the daemon silently.
/// </summary>
internal sealed record DaemonCommandLine(bool Help, bool Version, IReadOnlyList<ConfigEntry> Settings, string? Error)
{
    public const string Origin = "on the command line";

    public static DaemonCommandLine Parse(IReadOnlyList<string> args)
    {
        if (args.Any(a => a is "--help" or "-h"))
        {
            return new(true, false, [], null);
        }
        if (args.Contains("--version"))
        {
            return new(false, true, [], null);
        }
        var settings = new List<ConfigEntry>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2 || arg[2] == '=')
            {
                return Fail($"unexpected argument '{arg}': options are --Section:Key=value (agentschedd --help lists the keys)");
            }
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                settings.Add(new ConfigEntry(arg[2..eq], arg[(eq + 1)..], Origin));
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                settings.Add(new ConfigEntry(arg[2..], args[++i], Origin));
            }
            else
            {
                return Fail($"{arg} needs a value: {arg}=VALUE");
            }
        }
        return new(false, false, settings, null);
    }

    private static DaemonCommandLine Fail(string error) => new(false, false, [], error);

    /// <summary>The daemon's version (the informational version: 1.0.0+commit).</summary>
    public static string VersionText =>
        typeof(DaemonCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>What <c>--help</c> prints: the usage, the sources, and every key with its default (from <see cref="ConfigurationSchema"/>).</summary>
    public static string Usage
    {
        get
        {
            var text = new StringBuilder();
            text.Append("""
                usage: agentschedd [--Section:Key=value]...
                       agentschedd --help | --version

                agentschedd loads the agent_class sched_ext scheduler (or falls back to EEVDF controls)
                and serves the socket API that agent runtimes mark their tasks through.

                Configuration, lowest precedence first: appsettings.json beside the binary,
                /etc/agentsched/agentsched.json (or the file $AGENTSCHED_CONFIG names), environment
                variables AGENTSCHED_Section__Key=value, the command line --Section:Key=value.
                An unknown key, a value of the wrong type or out of range, or a file that is not valid
                JSON stops the daemon with exit code 2; on SIGHUP (reload) it keeps the running
                configuration. docs/operations.md (Configuration) describes every key.

                Keys and their defaults:


                """);
            foreach (ConfigKey key in ConfigurationSchema.Keys)
            {
                text.Append("  ").Append(key.Name).Append('=').Append(key.DefaultText).Append('\n');
            }
            return text.ToString();
        }
    }
}
