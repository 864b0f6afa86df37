using System.Globalization;
using System.Text.Json;

namespace AgentSched.Workload;

/// <summary>What an agent loop measured: step count and rate, and step latency percentiles in µs.</summary>
internal sealed record StepResult(int Steps, double Seconds, double StepsPerSecond, double P50Us, double P99Us, double MaxUs, int CpuUsPerStep)
{
    /// <summary>The 99.9th percentile step latency, µs.</summary>
    public double P999Us { get; init; }

    /// <summary>
    /// The agent's and tool's mean run-queue wait per time on a CPU, µs: the growth of run_delay over
    /// the growth of the timeslice count in /proc/&lt;tid&gt;/schedstat for both threads during the
    /// loop. The kernel keeps it for every scheduling class, so it compares schedulers alike.
    /// Negative when schedstat could not be read.
    /// </summary>
    public double WaitUsPerRun { get; init; } = -1;

    /// <summary>
    /// The CPU time the agent and tool threads used during the loop, in seconds (schedstat's
    /// exact sum_exec_runtime: the burned work plus the pipes, wakeups and switches); negative when
    /// schedstat could not be read.
    /// </summary>
    public double CpuSeconds { get; init; } = -1;

    /// <summary>Every step's latency in µs, in the order the steps ran.</summary>
    public IReadOnlyList<double> LatenciesUs { get; init; } = [];

    /// <summary>The thread that ran the agent side of the loop.</summary>
    public int AgentTid { get; init; }

    /// <summary>The thread that ran the tool side.</summary>
    public int ToolTid { get; init; }

    /// <summary>With --thread-steps: the agent thread's voluntary context switches once its step was open.</summary>
    public long AgentBlockedAtStart { get; init; }

    /// <summary>With --thread-steps: the tool thread's voluntary context switches once its step was open.</summary>
    public long ToolBlockedAtStart { get; init; }

    public static StepResult From(List<double> latenciesUs, TimeSpan elapsed, int cpuUsPerStep)
    {
        double[] sorted = [.. latenciesUs];
        Array.Sort(sorted);
        return new StepResult(sorted.Length, elapsed.TotalSeconds, sorted.Length / elapsed.TotalSeconds,
            Percentile(sorted, 50), Percentile(sorted, 99), sorted.Length == 0 ? 0 : sorted[^1], cpuUsPerStep)
        {
            P999Us = Percentile(sorted, 99.9),
            LatenciesUs = latenciesUs,
        };
    }

    /// <summary>Nearest-rank percentile of an ascending array; 0 when it is empty.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }
        // Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point, not 999.
        int rank = (int)Math.Ceiling(Math.Round(p / 100 * sorted.Length, 9));
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("steps", Steps);
            w.WriteNumber("seconds", Math.Round(Seconds, 3));
            w.WriteNumber("steps_per_second", Math.Round(StepsPerSecond, 2));
            w.WriteNumber("cpu_us_per_step", CpuUsPerStep);
            w.WriteNumber("p50_us", Math.Round(P50Us));
            w.WriteNumber("p99_us", Math.Round(P99Us));
            w.WriteNumber("p999_us", Math.Round(P999Us));
            w.WriteNumber("max_us", Math.Round(MaxUs));
            w.WriteNumber("wait_us_per_run", Math.Round(WaitUsPerRun, 1));
            w.WriteNumber("cpu_seconds", Math.Round(CpuSeconds, 4));
            w.WriteNumber("agent_tid", AgentTid);
            w.WriteNumber("tool_tid", ToolTid);
            w.WriteNumber("agent_blocked_at_start", AgentBlockedAtStart);
            w.WriteNumber("tool_blocked_at_start", ToolBlockedAtStart);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public string ToText() => string.Create(CultureInfo.InvariantCulture,
        $"{Steps} steps in {Seconds:F1} s ({StepsPerSecond:F1}/s); step latency p50 {P50Us / 1000:F2} ms, p99 {P99Us / 1000:F2} ms, max {MaxUs / 1000:F2} ms (CPU per step {CpuUsPerStep / 1000.0:F1} ms)");
}
