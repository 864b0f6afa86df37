using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Logging;
using AgentSched.Daemon.Metrics;
using AgentSched.Daemon.Scheduler;
using AgentSched.Daemon.State;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Configuration;

/// <summary>
/// The daemon's configuration keys: one section per options class, one key per public settable
/// property of it, found by reflection, so that the options classes are the only list of keys.
/// The check at start, the check on reload, <c>--help</c> and the test that compares the
/// documentation with the code all read this.
/// </summary>
internal static class ConfigurationSchema
{
    public static readonly ConfigSection<SchedulerOptions> Scheduler = new(SchedulerOptions.Section, new SchedulerOptionsValidator(), static (c, o) => c.Bind(o));
    public static readonly ConfigSection<ApiOptions> Api = new(ApiOptions.Section, new ApiOptionsValidator(), static (c, o) => c.Bind(o));
    public static readonly ConfigSection<MetricsOptions> Metrics = new(MetricsOptions.Section, new MetricsOptionsValidator(), static (c, o) => c.Bind(o));
    public static readonly ConfigSection<StateOptions> State = new(StateOptions.Section, new StateOptionsValidator(), static (c, o) => c.Bind(o));
    public static readonly ConfigSection<LoggingOptions> Logging = new(LoggingOptions.Section, new LoggingOptionsValidator(), static (c, o) => c.Bind(o));

    /// <summary>Every section, in the order their problems are reported.</summary>
    public static readonly IReadOnlyList<ConfigSection> Sections = [Scheduler, Api, Metrics, State, Logging];

    /// <summary>Every key, <c>Section:Key</c>.</summary>
    public static IEnumerable<ConfigKey> Keys => Sections.SelectMany(s => s.Keys);

    public static ConfigSection? FindSection(string name) =>
        Sections.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>What a key's value must parse as; the binder's own parse of the same type.</summary>
internal enum ConfigValueKind
{
    Text,
    Integer,
    Boolean,
}

/// <summary>One configuration key: a public settable property of a section's options class.</summary>
internal sealed class ConfigKey(ConfigSection section, PropertyInfo property)
{
    public ConfigSection Section { get; } = section;

    public PropertyInfo Property { get; } = property;

    /// <summary><c>Section:Key</c>, as documented.</summary>
    public string Name { get; } = $"{section.Name}:{property.Name}";

    public ConfigValueKind Kind { get; } = property.PropertyType switch
    {
        Type t when t == typeof(string) => ConfigValueKind.Text,
        Type t when t == typeof(int) => ConfigValueKind.Integer,
        Type t when t == typeof(bool) => ConfigValueKind.Boolean,
        Type t => throw new NotSupportedException($"{section.Name}:{property.Name} is a {t}; ConfigurationSchema checks string, int and bool keys only"),
    };

    /// <summary>Null when <paramref name="value"/> parses as this key's type, else why not.</summary>
    public string? CheckType(string value) => Kind switch
    {
        ConfigValueKind.Integer when !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) => "an integer",
        ConfigValueKind.Boolean when !bool.TryParse(value, out _) => "true or false",
        _ => null,
    };

    /// <summary>The value of this key in <paramref name="options"/> (an instance of the section's class).</summary>
    public object? ValueIn(object options) => Property.GetValue(options);

    /// <summary>The default, as it would be written in the configuration.</summary>
    public string DefaultText => ValueIn(Section.CreateDefault()) switch
    {
        null => "",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        object o => o.ToString() ?? "",
    };
}

/// <summary>A configuration section: its options class, how it is bound, and its validator.</summary>
internal abstract class ConfigSection
{
    public abstract string Name { get; }

    public abstract IReadOnlyList<ConfigKey> Keys { get; }

    public ConfigKey? FindKey(string name) =>
        Keys.FirstOrDefault(k => string.Equals(k.Property.Name, name, StringComparison.OrdinalIgnoreCase));

    public abstract object CreateDefault();

    /// <summary>Binds the section of <paramref name="configuration"/> to a new options object and validates it; problems go to <paramref name="errors"/>.</summary>
    public abstract object BindAndValidate(IConfiguration configuration, List<string> errors);
}

internal sealed class ConfigSection<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>
    : ConfigSection where T : class, new()
{
    private readonly IValidateOptions<T> _validator;
    private readonly Action<IConfiguration, T> _bind;

    /// <param name="bind">The source-generated binder's call for <typeparamref name="T"/> (a generic call could not be generated).</param>
    public ConfigSection(string name, IValidateOptions<T> validator, Action<IConfiguration, T> bind)
    {
        Name = name;
        _validator = validator;
        _bind = bind;
        Keys = [.. typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod?.IsPublic == true && p.SetMethod?.IsPublic == true)
            .Select(p => new ConfigKey(this, p))];
    }

    public override string Name { get; }

    public override IReadOnlyList<ConfigKey> Keys { get; }

    public override object CreateDefault() => new T();

    public override object BindAndValidate(IConfiguration configuration, List<string> errors)
    {
        var options = new T();
        _bind(configuration.GetSection(Name), options);
        ValidateOptionsResult result = _validator.Validate(null, options);
        if (result.Failed)
        {
            errors.AddRange(result.Failures ?? [result.FailureMessage]);
        }
        return options;
    }
}
