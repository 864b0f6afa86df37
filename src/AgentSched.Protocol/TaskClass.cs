namespace AgentSched.Protocol;

/// <summary>
/// The classes a mark can ask for. The numeric values are those of <c>enum agent_class_id</c> in
/// bpf/intf.h (a test in the daemon checks it); on the wire they are lower-case names.
/// </summary>
public enum TaskClass
{
    /// <summary>Everything unmarked: fair, nice-weighted.</summary>
    Normal = 0,

    /// <summary>Latency-critical: an agent's orchestration thread, a tool it just forked.</summary>
    Burst = 1,

    /// <summary>Declared throughput work: inference workers, compiles.</summary>
    Batch = 2,
}

/// <summary>Wire names of <see cref="TaskClass"/>: <c>normal</c>, <c>burst</c>, <c>batch</c>.</summary>
public static class TaskClassNames
{
    /// <summary>The wire name of a class.</summary>
    public static string Name(TaskClass c) => c switch
    {
        TaskClass.Normal => "normal",
        TaskClass.Burst => "burst",
        TaskClass.Batch => "batch",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Parses a wire name (case-sensitive); false for anything else.</summary>
    public static bool TryParse(string? name, out TaskClass c)
    {
        switch (name)
        {
            case "normal": c = TaskClass.Normal; return true;
            case "burst": c = TaskClass.Burst; return true;
            case "batch": c = TaskClass.Batch; return true;
            default: c = default; return false;
        }
    }
}
