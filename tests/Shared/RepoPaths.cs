namespace AgentSched.Tests;

/// <summary>Paths of the repository the tests were built from (found by walking up to AgentSched.sln).</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>artifacts/bin/agentschedd, the launcher the build leaves.</summary>
    public static string Daemon => Path.Combine(Root, "artifacts", "bin", "agentschedd");

    /// <summary>artifacts/bin/agentsched-workload.</summary>
    public static string Workload => Path.Combine(Root, "artifacts", "bin", "agentsched-workload");

    /// <summary>artifacts/bin/agentsched.</summary>
    public static string Cli => Path.Combine(Root, "artifacts", "bin", "agentsched");

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "AgentSched.sln")))
            {
                return dir;
            }
        }
        throw new InvalidOperationException($"AgentSched.sln not found above {AppContext.BaseDirectory}");
    }
}
