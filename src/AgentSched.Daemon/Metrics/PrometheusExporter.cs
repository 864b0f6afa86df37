using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Daemon.Metrics;

/// <summary>
/// Renders <see cref="DaemonMetrics"/> in the Prometheus text exposition format, version 0.0.4
/// (docs/metrics.md): instrument <c>agentsched.scheduler.dispatches</c> becomes the family
/// <c>agentsched_scheduler_dispatches_total</c>, counters get <c>_total</c>, gauges stay as they
/// are, and the scheduler's log2 histograms become <c>agentsched_scheduler_wait_seconds</c> and
/// <c>agentsched_step_seconds</c>, <c>agentsched_step_wait_seconds</c>, <c>agentsched_step_run_seconds</c>.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly DaemonMetrics _metrics;
    private readonly MeterListener _listener = new();
    private readonly List<Instrument> _instruments = [];
    private readonly Lock _gate = new();
    private readonly Dictionary<Instrument, List<(double Value, KeyValuePair<string, object?>[] Tags)>> _collected = [];

    public PrometheusExporter(DaemonMetrics metrics)
    {
        _metrics = metrics;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == metrics.Meter)
            {
                lock (_gate) _instruments.Add(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Collect(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Collect(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Collect(i, v, tags));
        _listener.Start();
    }

    private void Collect(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // Only called from RecordObservableInstruments, under _gate.
        if (!_collected.TryGetValue(instrument, out var samples))
        {
            _collected[instrument] = samples = [];
        }
        samples.Add((value, tags.ToArray()));
    }

    /// <summary>One scrape: every instrument observed now, plus the wait histograms.</summary>
    public string Scrape()
    {
        var text = new StringBuilder(8192);
        lock (_gate)
        {
            _collected.Clear();
            _listener.RecordObservableInstruments();
            foreach (Instrument instrument in _instruments)
            {
                bool counter = instrument is ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double>;
                string name = instrument.Name.Replace('.', '_') + (counter ? "_total" : "");
                WriteHeader(text, name, instrument.Description ?? "", counter ? "counter" : "gauge");
                if (_collected.TryGetValue(instrument, out var samples))
                {
                    foreach ((double value, KeyValuePair<string, object?>[] tags) in samples)
                    {
                        WriteSample(text, name, tags.Select(t => (t.Key, Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? "")), value);
                    }
                }
            }
            // Inside the lock: the histogram comes from the same reading of the maps as the counters.
            WriteWaitHistogram(text, _metrics.ReadLatency());
            WriteStepHistograms(text, _metrics.ReadSteps());
        }
        return text.ToString();
    }

    private static readonly (string Key, AgentClass Class)[] s_classes =
        [("normal", AgentClass.Normal), ("burst", AgentClass.Burst), ("batch", AgentClass.Batch)];

    /// <summary>The queue-wait histogram per class (every wait of every task).</summary>
    internal static void WriteWaitHistogram(StringBuilder text, AgentLatencySnapshot? latency) =>
        WriteHistogram(text, "agentsched_scheduler_wait_seconds", "Time from runnable to running on a CPU, by class", latency is null ? null : latency.Histogram);

    /// <summary>The three step histograms per class (steps of marked tasks).</summary>
    internal static void WriteStepHistograms(StringBuilder text, AgentStepSnapshot? steps)
    {
        WriteHistogram(text, "agentsched_step_seconds", "Steps of marked tasks, from runnable after blocking to blocking again, by the class of their first run",
            steps is null ? null : c => steps.Histogram(c, AgentStepTime.Total));
        WriteHistogram(text, "agentsched_step_wait_seconds", "Time a step spent runnable but not on a CPU (summed over the step), by class",
            steps is null ? null : c => steps.Histogram(c, AgentStepTime.Wait));
        WriteHistogram(text, "agentsched_step_run_seconds", "Time a step spent on a CPU, by class",
            steps is null ? null : c => steps.Histogram(c, AgentStepTime.Run));
    }

    /// <summary>
    /// A per-class log2 histogram. BPF bucket b counts values in [2^b, 2^(b+1)) ns and the last one
    /// everything longer, so bucket b's upper bound is le=2^(b+1) ns and the last one is only in
    /// +Inf; counts are made cumulative. Only the header without a scheduler.
    /// </summary>
    private static void WriteHistogram(StringBuilder text, string name, string help, Func<AgentClass, Log2Histogram>? histogram)
    {
        WriteHeader(text, name, help, "histogram");
        if (histogram is null)
        {
            return;
        }
        foreach ((string key, AgentClass c) in s_classes)
        {
            Log2Histogram h = histogram(c);
            ulong cumulative = 0;
            for (int b = 0; b < h.Buckets.Count - 1; b++)
            {
                cumulative += h.Buckets[b];
                string le = FormatDouble(Math.Pow(2, b + 1) / 1e9);
                WriteSample(text, name + "_bucket", [("class", key), ("le", le)], cumulative);
            }
            ulong count = cumulative + h.Buckets[^1];
            WriteSample(text, name + "_bucket", [("class", key), ("le", "+Inf")], count);
            WriteSample(text, name + "_sum", [("class", key)], h.SumNs / 1e9);
            WriteSample(text, name + "_count", [("class", key)], count);
        }
    }

    internal static void WriteHeader(StringBuilder text, string name, string help, string type)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    internal static void WriteSample(StringBuilder text, string name, IEnumerable<(string Name, string Value)> labels, double value)
    {
        text.Append(name);
        bool first = true;
        foreach ((string label, string v) in labels)
        {
            text.Append(first ? '{' : ',').Append(label).Append("=\"")
                .Append(v.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")).Append('"');
            first = false;
        }
        if (!first) text.Append('}');
        text.Append(' ').Append(FormatDouble(value)).Append('\n');
    }

    /// <summary>Integers as integers, others round-trippable; +Inf, -Inf and NaN as Prometheus spells them.</summary>
    internal static string FormatDouble(double v) => v switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ when v == Math.Floor(v) && Math.Abs(v) < 1e15 => ((long)v).ToString(CultureInfo.InvariantCulture),
        _ => v.ToString("R", CultureInfo.InvariantCulture),
    };

    public void Dispose() => _listener.Dispose();
}
