using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentSched.Client;
using AgentSched.Protocol;

namespace AgentSched.Cli.Commands;

/// <summary>
/// <c>agentsched top</c>: per-class activity over the last interval, from two samples of the
/// daemon's <c>stats</c> (the scheduler's per-CPU counters and wait histograms).
/// </summary>
internal static class TopCommand
{
    private static readonly TaskClass[] s_classes = [TaskClass.Burst, TaskClass.Normal, TaskClass.Batch];

    /// <summary>The scheduler counters top reports besides the per-class dispatches, in display order.</summary>
    internal static readonly (string Key, string Label)[] Counters =
    [
        ("kick_preempt", "preemption kicks"),
        ("direct_idle", "wakeups placed on idle CPUs"),
        ("demote_step", "BURST demotions (step budget)"),
        ("demote_period", "BURST demotions (credit period)"),
        ("starve_dispatch", "starvation-guard dispatches"),
        ("migrate_in_window", "migrations inside anti-migration windows"),
        ("window_expired", "step windows expired"),
        ("inherited", "forks that inherited a class"),
        ("batch_yield", "BATCH runs cut short for waiting work"),
    ];

    public static Command Create(CliConsole console, CliEnvironment environment)
    {
        Option<bool> once = new("--once") { Description = "Print one sample and exit." };
        Option<bool> json = CommonOptions.Json("the sample (with --once)");
        Option<TimeSpan?> interval = new("--interval", "-i")
        {
            Description = "Time between samples, 100ms to 1m (default 1s).",
            HelpName = "duration",
            CustomParser = result =>
            {
                string text = result.Tokens.Single().Value;
                if (!Durations.TryParse(text, out TimeSpan t, out string error)) { result.AddError($"--interval: {error}"); return null; }
                if (t < TimeSpan.FromMilliseconds(100) || t > TimeSpan.FromMinutes(1)) { result.AddError($"--interval: {text} is out of range (100ms to 1m)"); return null; }
                return t;
            },
        };
        var command = new Command("top", "Live per-class view: dispatches/s, wake-to-run latency, demotions, starvation guard, migrations.") { once, json, interval };
        command.Validators.Add(result =>
        {
            if (result.GetValue(json) && !result.GetValue(once)) result.AddError("--json needs --once (top prints one JSON sample and exits)");
        });
        command.SetAction(async (parsed, token) =>
        {
            TimeSpan every = parsed.GetValue(interval) ?? TimeSpan.FromSeconds(1);
            using AgentSchedClient client = CliApp.Connect(parsed);
            try
            {
                Sample previous = await Sample.TakeAsync(client, token);
                while (true)
                {
                    await environment.Delay(every, token);
                    Sample current = await Sample.TakeAsync(client, token);
                    var view = new TopView(previous, current);
                    if (parsed.GetValue(once))
                    {
                        console.Out.WriteLine(parsed.GetValue(json) ? view.ToJson() : view.Render());
                        return (int)ReturnCode.Ok;
                    }
                    console.Out.Write(environment.OutputIsTerminal ? "\x1b[H\x1b[2J" + view.Render() : view.Render() + "\n");
                    console.Out.Flush();
                    previous = current;
                }
            }
            catch (AgentSchedUnavailableException e)
            {
                return CliApp.Unavailable(console, e);
            }
            catch (AgentSchedException e)
            {
                console.Error.WriteLine($"agentsched: top: {e.Code}: {e.Detail}");
                return (int)ReturnCode.Error;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return (int)ReturnCode.Ok;
            }
        });
        return command;
    }

    /// <summary>One reading of <c>status</c> and <c>stats</c>.</summary>
    internal sealed record Sample(DateTimeOffset At, string Mode, string Reason, int Attaches, IReadOnlyDictionary<TaskClass, int> Marks, JsonElement Stats)
    {
        public static async Task<Sample> TakeAsync(AgentSchedClient client, CancellationToken token)
        {
            DaemonStatus status = (await client.StatusAsync(token))!;
            JsonElement stats = (await client.StatsAsync(token))!.Value;
            return new Sample(DateTimeOffset.UtcNow, status.Mode, status.Reason, status.Attaches, status.Marks, stats);
        }

        /// <summary>The longest wait of a class since the scheduler was attached, in us; null without a scheduler.</summary>
        public double? MaxWaitUs(TaskClass c) =>
            Stats.GetProperty("wait") is { ValueKind: JsonValueKind.Object } w ? w.GetProperty(TaskClassNames.Name(c)).GetProperty("max_us").GetDouble() : null;

        public ulong? Counter(string key) =>
            Stats.GetProperty("scheduler") is { ValueKind: JsonValueKind.Object } s && s.TryGetProperty(key, out JsonElement v) ? v.GetUInt64() : null;

        public ulong[]? Buckets(TaskClass c) =>
            Stats.GetProperty("wait") is { ValueKind: JsonValueKind.Object } w
                ? [.. w.GetProperty(TaskClassNames.Name(c)).GetProperty("buckets").EnumerateArray().Select(b => b.GetUInt64())]
                : null;
    }

    /// <summary>The difference of two samples, as a table or JSON.</summary>
    internal sealed class TopView(Sample before, Sample after)
    {
        private readonly double _seconds = Math.Max((after.At - before.At).TotalSeconds, 1e-3);

        /// <summary>The scheduler was attached again between the samples: its counters started over from 0.</summary>
        private readonly bool _reattached = after.Attaches != before.Attaches;

        public bool HasScheduler => after.Counter("dispatch_burst") is not null && before.Counter("dispatch_burst") is not null;

        private static string DispatchKey(TaskClass c) => "dispatch_" + TaskClassNames.Name(c);

        /// <summary>The gauge of tasks runnable (queued or running) in a class, as of the second sample.</summary>
        private static string RunnableKey(TaskClass c) => "runnable_" + TaskClassNames.Name(c);

        private double? Rate(string key) =>
            after.Counter(key) is { } a && before.Counter(key) is { } b ? (_reattached || a < b ? a : a - b) / _seconds : null;

        /// <summary>
        /// The wait percentile over the interval: the upper bound of the log2 bucket holding it, in
        /// us. The last bucket is open-ended ("everything longer"): there the longest wait seen,
        /// <paramref name="maxUs"/>, is the bound.
        /// </summary>
        internal static double? Percentile(ulong[]? before, ulong[]? after, double q, bool reattached = false, double? maxUs = null)
        {
            if (before is null || after is null) return null;
            var delta = new ulong[after.Length];
            bool reset = reattached;
            for (int i = 0; i < after.Length; i++) reset |= after[i] < before[i];
            ulong total = 0;
            for (int i = 0; i < after.Length; i++)
            {
                delta[i] = reset ? after[i] : after[i] - before[i];
                total += delta[i];
            }
            if (total == 0) return null;
            ulong seen = 0;
            for (int i = 0; i < delta.Length; i++)
            {
                seen += delta[i];
                if (seen >= Math.Ceiling(q * total))
                {
                    return i < delta.Length - 1 ? Math.Pow(2, i + 1) / 1000.0 : Math.Max(maxUs ?? 0, Math.Pow(2, i) / 1000.0);
                }
            }
            return null;
        }

        public string Render()
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"agentsched top: mode {after.Mode} ({after.Reason}), {_seconds:0.0} s interval\n\n");
            sb.Append(CultureInfo.InvariantCulture, $"{"class",-8} {"marked",7} {"runnable",9} {"dispatch/s",11} {"wait p50",10} {"wait p99",10}\n");
            foreach (TaskClass c in s_classes)
            {
                after.Marks.TryGetValue(c, out int marked);
                double? rate = Rate(DispatchKey(c));
                double? p50 = Percentile(before.Buckets(c), after.Buckets(c), 0.50, _reattached, after.MaxWaitUs(c)), p99 = Percentile(before.Buckets(c), after.Buckets(c), 0.99, _reattached, after.MaxWaitUs(c));
                string runnable = after.Counter(RunnableKey(c)) is { } n ? n.ToString(CultureInfo.InvariantCulture) : "-";
                sb.Append(CultureInfo.InvariantCulture, $"{TaskClassNames.Name(c),-8} {marked,7} {runnable,9} {Num(rate),11} {Us(p50),10} {Us(p99),10}\n");
            }
            sb.Append('\n');
            if (!HasScheduler)
            {
                sb.Append("no scheduler counters: agent_class is not attached (fallback mode)\n");
                return sb.ToString();
            }
            foreach ((string key, string label) in Counters)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{label,-42} {Num(Rate(key)),9}/s  {after.Counter(key),12} total\n");
            }
            return sb.ToString();
        }

        public string ToJson() => JsonText.Write(w =>
        {
            w.WriteString("mode", after.Mode);
            w.WriteNumber("interval_s", Math.Round(_seconds, 3));
            w.WriteStartObject("classes");
            foreach (TaskClass c in s_classes)
            {
                w.WriteStartObject(TaskClassNames.Name(c));
                after.Marks.TryGetValue(c, out int marked);
                w.WriteNumber("marked", marked);
                if (after.Counter(RunnableKey(c)) is { } runnable) w.WriteNumber("runnable", runnable); else w.WriteNull("runnable");
                WriteCounter(w, "dispatches", DispatchKey(c));
                WriteNullable(w, "wait_p50_us", Percentile(before.Buckets(c), after.Buckets(c), 0.50, _reattached, after.MaxWaitUs(c)));
                WriteNullable(w, "wait_p99_us", Percentile(before.Buckets(c), after.Buckets(c), 0.99, _reattached, after.MaxWaitUs(c)));
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartObject("counters");
            foreach ((string key, _) in Counters)
            {
                WriteCounter(w, key, key);
            }
            w.WriteEndObject();
        });

        private void WriteCounter(Utf8JsonWriter w, string name, string key)
        {
            if (after.Counter(key) is not { } total)
            {
                w.WriteNull(name);
                return;
            }
            w.WriteStartObject(name);
            w.WriteNumber("total", total);
            w.WriteNumber("per_s", Math.Round(Rate(key) ?? 0, 2));
            w.WriteEndObject();
        }

        private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
        {
            if (value is { } v) w.WriteNumber(name, v); else w.WriteNull(name);
        }

        private static string Num(double? v) => v is { } x ? x.ToString(x >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture) : "-";

        private static string Us(double? us) => us switch
        {
            null => "-",
            >= 1000 => (us.Value / 1000).ToString("0.#", CultureInfo.InvariantCulture) + " ms",
            _ => us.Value.ToString("0.#", CultureInfo.InvariantCulture) + " us",
        };
    }
}
