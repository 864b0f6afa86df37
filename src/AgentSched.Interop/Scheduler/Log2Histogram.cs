using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Scheduler;

/// <summary>
/// One of agent_class's log2 histograms of nanoseconds, summed over CPUs: bucket b counts values in
/// [2^b, 2^(b+1)) ns, the last one everything longer.
/// </summary>
/// <param name="Buckets">Counts per bucket (<see cref="AgentLatencySizes.Buckets"/> of them).</param>
/// <param name="SumNs">The sum of the counted values.</param>
/// <param name="MaxNs">The largest counted value, when the scheduler keeps it; the upper bound of the last bucket otherwise unknown.</param>
public sealed record Log2Histogram(IReadOnlyList<ulong> Buckets, ulong SumNs, ulong? MaxNs = null)
{
    /// <summary>The number of values counted.</summary>
    public ulong Count => Buckets.Aggregate(0UL, (a, b) => a + b);

    /// <summary>The exclusive upper bound of bucket <paramref name="b"/> in ns, null for the last (unbounded) one.</summary>
    public static ulong? UpperBoundNs(int b) => b >= AgentLatencySizes.Buckets - 1 ? null : 1UL << (b + 1);

    /// <summary>
    /// An upper bound of the p-th percentile, in ns: the top of its bucket (for the last bucket,
    /// <see cref="MaxNs"/>, or that bucket's lower bound when there is no maximum); 0 when empty.
    /// </summary>
    public ulong PercentileUpperBoundNs(double p)
    {
        ulong total = Count, seen = 0;
        if (total == 0)
        {
            return 0;
        }
        ulong rank = Math.Max(1, (ulong)Math.Ceiling(p / 100 * total));
        for (int b = 0; b < Buckets.Count; b++)
        {
            seen += Buckets[b];
            if (seen >= rank)
            {
                return UpperBoundNs(b) ?? MaxNs ?? 1UL << b;
            }
        }
        return MaxNs ?? 0;
    }
}
