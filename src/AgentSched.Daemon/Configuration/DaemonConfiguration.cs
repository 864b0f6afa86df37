using System.Collections;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Logging;
using AgentSched.Daemon.Metrics;
using AgentSched.Daemon.Scheduler;
using AgentSched.Daemon.State;
using Microsoft.Extensions.Configuration;

namespace AgentSched.Daemon.Configuration;

/// <summary>One key and value as a source gave it, and where it came from ("on the command line").</summary>
internal readonly record struct ConfigEntry(string Key, string? Value, string Origin);

/// <summary>
/// Where the configuration comes from, lowest precedence first: JSON files (appsettings.json beside
/// the binary, then /etc/agentsched/agentsched.json or $AGENTSCHED_CONFIG), AGENTSCHED_Section__Key
/// environment variables, the command line.
/// </summary>
internal sealed record ConfigurationSources(
    IReadOnlyList<string> JsonFiles,
    IReadOnlyList<ConfigEntry> Environment,
    IReadOnlyList<ConfigEntry> CommandLine)
{
    public const string EnvironmentPrefix = "AGENTSCHED_";

    /// <summary>This process's sources, re-read each time (a reload calls it again).</summary>
    public static ConfigurationSources FromProcess(IReadOnlyList<ConfigEntry> commandLine) => new(
        [
            Path.Combine(AppContext.BaseDirectory, "appsettings.json"),
            System.Environment.GetEnvironmentVariable("AGENTSCHED_CONFIG") is { Length: > 0 } file ? file : "/etc/agentsched/agentsched.json",
        ],
        FromEnvironment(System.Environment.GetEnvironmentVariables()),
        commandLine);

    /// <summary>
    /// AGENTSCHED_Section__Key=value as Section:Key. A variable without "__" names no key of any
    /// section and is not configuration: $AGENTSCHED_CONFIG, the CLI's $AGENTSCHED_SOCKET, the scripts'
    /// $AGENTSCHED_TEST_KERNELS and the like are left alone.
    /// </summary>
    internal static IReadOnlyList<ConfigEntry> FromEnvironment(IDictionary variables) =>
        [.. variables.Cast<DictionaryEntry>()
            .Select(e => ((string)e.Key, e.Value as string))
            .Where(e => e.Item1.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) && e.Item1.Contains("__", StringComparison.Ordinal))
            .OrderBy(e => e.Item1, StringComparer.Ordinal)
            .Select(e => new ConfigEntry(e.Item1[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), e.Item2, $"in ${e.Item1}"))];
}

/// <summary>The checked, bound and validated options of every section.</summary>
internal sealed class DaemonSettings(IReadOnlyDictionary<ConfigSection, object> sections)
{
    public object this[ConfigSection section] => sections[section];

    public T Get<T>(ConfigSection<T> section) where T : class, new() => (T)sections[section];

    public SchedulerOptions Scheduler => Get(ConfigurationSchema.Scheduler);

    public ApiOptions Api => Get(ConfigurationSchema.Api);

    public MetricsOptions Metrics => Get(ConfigurationSchema.Metrics);

    public StateOptions State => Get(ConfigurationSchema.State);

    public LoggingOptions Logging => Get(ConfigurationSchema.Logging);

    /// <summary>The keys whose values differ between this and <paramref name="other"/>.</summary>
    public IEnumerable<ConfigKey> Differences(DaemonSettings other) =>
        ConfigurationSchema.Keys.Where(k => !Equals(k.ValueIn(this[k.Section]), k.ValueIn(other[k.Section])));
}

/// <summary>The outcome of <see cref="DaemonConfiguration.Load"/>: settings, or every problem found, one line each.</summary>
internal sealed record ConfigurationResult(DaemonSettings? Settings, IConfigurationRoot? Root, IReadOnlyList<string> Errors)
{
    public bool Succeeded => Settings is not null;
}

/// <summary>
/// Reads, checks and validates the daemon's configuration: the one path both the start and a reload
/// (SIGHUP) take. In order: every JSON file parses; every key of every source is a key of
/// <see cref="ConfigurationSchema"/> and every value parses as its key's type (each problem named
/// with its key and source); then each section is bound and its validator run on the merged values.
/// </summary>
internal static class DaemonConfiguration
{
    public static ConfigurationResult Load(ConfigurationSources sources)
    {
        var errors = new List<string>();
        // An unknown key does not keep the rest from being bound and validated (all is reported at
        // once); a file that does not parse or a value the binder cannot convert does.
        bool bindable = true;
        var builder = new ConfigurationBuilder();
        foreach (string file in sources.JsonFiles)
        {
            if (LoadJson(file, errors) is { } root)
            {
                foreach (ConfigEntry entry in Leaves(root, $"in {file}"))
                {
                    bindable &= Check(entry, errors);
                }
                builder.AddConfiguration(root);
            }
            else
            {
                bindable = false;
            }
        }
        foreach (IReadOnlyList<ConfigEntry> entries in (IReadOnlyList<ConfigEntry>[])[sources.Environment, sources.CommandLine])
        {
            foreach (ConfigEntry entry in entries)
            {
                bindable &= Check(entry, errors);
            }
            // A key given twice: the later one wins, as in the JSON files.
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (ConfigEntry entry in entries)
            {
                data[entry.Key] = entry.Value;
            }
            builder.AddInMemoryCollection(data);
        }
        if (!bindable)
        {
            return new ConfigurationResult(null, null, [.. errors.Distinct()]);
        }

        IConfigurationRoot merged = builder.Build();
        var sections = new Dictionary<ConfigSection, object>();
        foreach (ConfigSection section in ConfigurationSchema.Sections)
        {
            try
            {
                sections[section] = section.BindAndValidate(merged, errors);
            }
            catch (InvalidOperationException e)
            {
                // Not expected once every value's type was checked: still one line, not a crash.
                errors.Add(e.Message);
            }
        }
        return errors.Count > 0
            ? new ConfigurationResult(null, null, [.. errors.Distinct()])
            : new ConfigurationResult(new DaemonSettings(sections), merged, []);
    }

    /// <summary>The file's keys, or null (and a line in <paramref name="errors"/>) when it cannot be read or parsed. A missing file is empty.</summary>
    private static IConfigurationRoot? LoadJson(string file, List<string> errors)
    {
        try
        {
            return new ConfigurationBuilder().AddJsonFile(file, optional: true, reloadOnChange: false).Build();
        }
        catch (InvalidDataException e)
        {
            // "Failed to load configuration from file" around the parser's own message (with its line and byte).
            Exception inner = e;
            while (inner.InnerException is not null)
            {
                inner = inner.InnerException;
            }
            errors.Add($"{file} is not valid JSON: {inner.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{file} cannot be read: {e.Message}");
        }
        return null;
    }

    /// <summary>Every key that holds a value (or an empty object or array), depth first.</summary>
    private static IEnumerable<ConfigEntry> Leaves(IConfiguration configuration, string origin)
    {
        foreach (IConfigurationSection s in configuration.GetChildren())
        {
            bool any = false;
            foreach (ConfigEntry leaf in Leaves(s, origin))
            {
                any = true;
                yield return leaf;
            }
            if (!any || s.Value is not null)
            {
                yield return new ConfigEntry(s.Path, s.Value, origin);
            }
        }
    }

    /// <summary>
    /// Adds a line to <paramref name="errors"/> when the entry's key is unknown or its value is not of
    /// the key's type; false when binding would fail on it (a wrong type, an object for a value).
    /// </summary>
    private static bool Check(ConfigEntry entry, List<string> errors)
    {
        string[] parts = entry.Key.Split(ConfigurationPath.KeyDelimiter);
        ConfigSection? section = ConfigurationSchema.FindSection(parts[0]);
        ConfigKey? key = section is not null && parts.Length > 1 ? section.FindKey(parts[1]) : null;
        if (section is not null && parts.Length == 1)
        {
            if (!string.IsNullOrEmpty(entry.Value))
            {
                errors.Add($"{section.Name} is a section, not a key ({entry.Origin})");
            }
        }
        else if (key is null)
        {
            errors.Add($"unknown key {entry.Key} {entry.Origin}");
        }
        else if (parts.Length > 2)
        {
            errors.Add($"{key.Name} must be a single value, not an object or array ({entry.Origin})");
            return false;
        }
        else if (entry.Value is not null && key.CheckType(entry.Value) is { } expected)
        {
            errors.Add($"{key.Name} must be {expected} (got '{entry.Value}' {entry.Origin})");
            return false;
        }
        return true;
    }
}
