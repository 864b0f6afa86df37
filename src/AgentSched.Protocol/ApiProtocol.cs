namespace AgentSched.Protocol;

/// <summary>Constants of the agentschedd socket protocol, version 1.</summary>
public static class ApiProtocol
{
    /// <summary>The protocol version requests carry as <c>"v"</c> and responses echo.</summary>
    public const int Version = 1;

    /// <summary>The longest request line accepted, newline excluded.</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Where agentschedd listens unless configured otherwise (Api:SocketPath).</summary>
    public const string DefaultSocketPath = "/run/agentsched/agentsched.sock";

    /// <summary>Bounds of <c>window_ms</c>: 1 ms to 1 hour.</summary>
    public const int MinWindowMs = 1, MaxWindowMs = 3_600_000;

    /// <summary>Bounds of <c>budget_us</c> (a BURST step's CPU budget): 100 us to 1 s.</summary>
    public const int MinBudgetUs = 100, MaxBudgetUs = 1_000_000;
}
