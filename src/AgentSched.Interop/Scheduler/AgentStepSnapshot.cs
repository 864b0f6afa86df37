using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Scheduler;

/// <summary>agent_class's step histograms and counters per class (the <c>step_stats</c> map), summed over CPUs.</summary>
public sealed class AgentStepSnapshot
{
    private const int Classes = AgentAbi.NrClasses, Times = AgentStepStats.Times, N = AgentLatencySizes.Buckets;
    private readonly ulong[] _sum;   // struct agent_step_stats as u64s, summed over CPUs

    private AgentStepSnapshot(ulong[] sum) => _sum = sum;

    /// <summary>The histogram of one part of the steps of a class.</summary>
    public Log2Histogram Histogram(AgentClass c, AgentStepTime t)
    {
        int row = ((int)c * Times + (int)t) * N;
        return new Log2Histogram(_sum[row..(row + N)], _sum[SumOffset + (int)c * Times + (int)t]);
    }

    /// <summary>Steps recorded for the class (the class of a step's first run).</summary>
    public ulong Steps(AgentClass c) => _sum[StepsOffset + (int)c];

    /// <summary>Runs of the class's steps on another CPU than the step's previous run.</summary>
    public ulong Migrations(AgentClass c) => _sum[StepsOffset + Classes + (int)c];

    /// <summary>Times a step of the class lost its CPU while still runnable.</summary>
    public ulong Preemptions(AgentClass c) => _sum[StepsOffset + 2 * Classes + (int)c];

    /// <summary>Steps of the class that ran only on the task's home CPU.</summary>
    public ulong HomeHits(AgentClass c) => _sum[StepsOffset + 3 * Classes + (int)c];

    private const int SumOffset = Classes * Times * N;
    private const int StepsOffset = SumOffset + Classes * Times;

    /// <summary>Sums per-CPU rows of the `step_stats` map, each a struct agent_step_stats as u64s.</summary>
    /// <exception cref="ArgumentException">A row is not the size of one.</exception>
    public static unsafe AgentStepSnapshot FromPerCpu(ulong[][] rows)
    {
        var sum = new ulong[sizeof(AgentStepStats) / sizeof(ulong)];
        foreach (ulong[] row in rows)
        {
            if (row.Length != sum.Length)
            {
                throw new ArgumentException($"a step_stats row is {sum.Length} u64s, not {row.Length}", nameof(rows));
            }
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += row[i];
            }
        }
        return new AgentStepSnapshot(sum);
    }
}
