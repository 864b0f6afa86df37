using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Scheduler;

/// <summary>Queue-wait (runnable → on CPU) histograms per class, summed over CPUs.</summary>
public sealed class AgentLatencySnapshot(ulong[][] buckets, ulong[] maxWaitNs, ulong[] waitSumNs)
{
    /// <summary>The sum of all counted waits of the class, in ns.</summary>
    public ulong WaitSumNs(AgentClass c) => waitSumNs[(int)c];

    /// <summary>Counts per log2 bucket: bucket b holds waits in [2^b, 2^(b+1)) ns.</summary>
    public IReadOnlyList<ulong> Buckets(AgentClass c) => buckets[(int)c];

    public ulong Count(AgentClass c) => buckets[(int)c].Aggregate(0UL, (a, b) => a + b);

    /// <summary>The longest wait any task of the class had, in ns.</summary>
    public ulong MaxWaitNs(AgentClass c) => maxWaitNs[(int)c];

    /// <summary>An upper bound of the p-th percentile wait, in ns (the top of its bucket); 0 when empty.</summary>
    public ulong PercentileUpperBoundNs(AgentClass c, double p) => Histogram(c).PercentileUpperBoundNs(p);

    /// <summary>The class's histogram, with its sum and maximum.</summary>
    public Log2Histogram Histogram(AgentClass c) => new(buckets[(int)c], waitSumNs[(int)c], maxWaitNs[(int)c]);

    /// <summary>Reads the `latency` map's per-CPU rows (layout: struct agent_latency).</summary>
    internal static AgentLatencySnapshot FromPerCpu(ulong[][] rows)
    {
        const int classes = AgentAbi.NrClasses, n = AgentLatencySizes.Buckets;
        var buckets = new ulong[classes][];
        var max = new ulong[classes];
        var sum = new ulong[classes];
        for (int c = 0; c < classes; c++)
        {
            buckets[c] = new ulong[n];
            foreach (ulong[] row in rows)
            {
                for (int b = 0; b < n; b++)
                {
                    buckets[c][b] += row[c * n + b];
                }
                max[c] = Math.Max(max[c], row[classes * n + c]);
                sum[c] += row[classes * n + classes + c];
            }
        }
        return new AgentLatencySnapshot(buckets, max, sum);
    }
}
