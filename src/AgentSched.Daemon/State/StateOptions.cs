using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.State;

/// <summary>The "State" configuration section: where accepted marks are persisted.</summary>
public sealed class StateOptions
{
    public const string Section = "State";

    /// <summary>Directory of marks.json; created if missing.</summary>
    public string Directory { get; set; } = "/var/lib/agentsched";

    internal string MarksFile => Path.Combine(Directory, "marks.json");
}

internal sealed class StateOptionsValidator : IValidateOptions<StateOptions>
{
    public ValidateOptionsResult Validate(string? name, StateOptions o) =>
        string.IsNullOrWhiteSpace(o.Directory) || !Path.IsPathRooted(o.Directory)
            ? ValidateOptionsResult.Fail($"State:Directory must be an absolute path (got '{o.Directory}')")
            : ValidateOptionsResult.Success;
}
