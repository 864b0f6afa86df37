namespace AgentSched.Cli;

/// <summary>agentsched's exit codes (documented in README.md).</summary>
public enum ReturnCode
{
    Ok = 0,
    Error = 1,
    UsageError = 2,
}
