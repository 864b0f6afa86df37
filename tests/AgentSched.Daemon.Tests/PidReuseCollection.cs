namespace AgentSched.Daemon.Tests;

/// <summary>
/// Tests that make the kernel hand a freed pid to a new process (<c>ProcStat.ReusePid</c>, through
/// ns_last_pid). Any process or thread created in between takes the pid instead, and the other test
/// classes start daemons and children in parallel: in full host runs the reuse sometimes failed 50
/// times in a row. These run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PidReuseCollection
{
    public const string Name = "pid reuse";
}
