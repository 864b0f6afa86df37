using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using AgentSched.Client;
using AgentSched.Protocol;

namespace AgentSched.Cli.Commands;

/// <summary>
/// <c>agentsched trace --pid P</c>: one line per step of the process's threads as the steps
/// complete, from the daemon's <c>steps</c> polled every interval (docs/cli.md).
/// </summary>
internal static class TraceCommand
{
    private static readonly TimeSpan s_defaultInterval = TimeSpan.FromMilliseconds(200);

    public static Command Create(CliConsole console, CliEnvironment environment)
    {
        Option<int> pid = new("--pid", "-p")
        {
            Description = "The process to trace (all its threads), or one thread's id.",
            HelpName = "pid",
            Required = true,
            CustomParser = result =>
            {
                string text = result.Tokens.Single().Value;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p > 0) return p;
                result.AddError($"--pid: '{text}' is not a process id (a positive integer)");
                return 0;
            },
        };
        Option<int?> steps = new("--steps", "-n")
        {
            Description = "Exit after printing this many steps (default: until Ctrl-C or the process exits).",
            HelpName = "count",
            CustomParser = result =>
            {
                string text = result.Tokens.Single().Value;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0) return n;
                result.AddError($"--steps: '{text}' is not a positive integer");
                return null;
            },
        };
        Option<TimeSpan?> interval = new("--interval", "-i")
        {
            Description = "Time between polls of the daemon, 10ms to 1m (default 200ms). The scheduler keeps each thread's last 32 steps; a thread that finishes more between two polls loses the oldest.",
            HelpName = "duration",
            CustomParser = result => CommonOptions.ParseDuration(result, "--interval", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1), "10ms to 1m"),
        };
        Option<bool> json = CommonOptions.Json("each step and each gap, one object per line,");
        var command = new Command("trace", "Print the steps of a process's threads as they complete: wait, run, CPU, migrations, preemptions.") { pid, steps, interval, json };
        command.SetAction(async (parsed, token) =>
        {
            var trace = new Trace(console, parsed.GetValue(pid), parsed.GetValue(steps), parsed.GetValue(json) ? new JsonLines(console.Out) : new Table(console.Out));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(token, environment.Interrupt);
            // Ctrl-C (or SIGTERM) ends the trace with its summary; a second one kills as usual.
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using AgentSchedClient client = CliApp.Connect(parsed);
            return await trace.RunAsync(client, parsed.GetValue(interval) ?? s_defaultInterval, environment.Delay, stop.Token);

            void Stop(PosixSignalContext signal)
            {
                signal.Cancel = !stop.IsCancellationRequested;
                stop.Cancel();
            }
        });
        return command;
    }

    /// <summary>One run of the command: polls, prints, counts, and says how it ended.</summary>
    private sealed class Trace(CliConsole console, int pid, int? limit, IStepWriter writer)
    {
        private readonly StepTracer _tracer = new();
        private long _shown, _missed;
        private bool _started;

        public async Task<int> RunAsync(AgentSchedClient client, TimeSpan every, Func<TimeSpan, CancellationToken, Task> delay, CancellationToken stop)
        {
            try
            {
                TaskStepsReport baseline = (await client.StepsAsync(pid, afterNs: null, stop))!;
                _tracer.Start(baseline);
                _started = true;
                if (baseline.Threads.Count == 0)
                {
                    console.Error.WriteLine($"agentsched: trace: no thread of {pid} has recorded a step yet (steps are recorded for marked tasks); waiting for one");
                }
                writer.Begin();
                console.Out.Flush();
                while (true)
                {
                    await delay(every, stop);
                    TaskStepsReport report;
                    try
                    {
                        report = (await client.StepsAsync(pid, _tracer.AfterNs, stop))!;
                    }
                    catch (AgentSchedException e) when (e.Code == ErrorCode.NoSuchProcess)
                    {
                        console.Error.WriteLine($"agentsched: trace: pid {pid} exited");
                        Summarize();
                        return (int)ReturnCode.Ok;
                    }
                    foreach (TracedStep step in _tracer.Next(report))
                    {
                        if (step.MissedBefore > 0)
                        {
                            writer.Gap(step);
                            _missed += step.MissedBefore;
                        }
                        writer.Step(step);
                        if (++_shown == limit)
                        {
                            Summarize();
                            return (int)ReturnCode.Ok;
                        }
                    }
                    console.Out.Flush();
                }
            }
            catch (AgentSchedUnavailableException e)
            {
                Summarize();
                return CliApp.Unavailable(console, e);
            }
            catch (AgentSchedException e)
            {
                Summarize();
                console.Error.WriteLine(e.Code == ErrorCode.NotTracing
                    ? "agentsched: trace: not_tracing: agentschedd records no steps: it is in fallback mode (see agentsched status), or runs with Scheduler:TraceSteps=false"
                    : $"agentsched: trace: {e.Code}: {e.Detail}");
                return (int)ReturnCode.Error;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                Summarize(); // Ctrl-C
                return (int)ReturnCode.Ok;
            }
        }

        /// <summary>Flushes, and once the trace had started says on stderr what it showed.</summary>
        private void Summarize()
        {
            console.Out.Flush();
            if (_started)
            {
                console.Error.WriteLine($"agentsched: trace: {Count(_shown, "step")} shown, {_missed} not shown");
            }
        }
    }

    private static string Count(long n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    /// <summary>How steps and gaps are printed: a table or JSON lines.</summary>
    internal interface IStepWriter
    {
        void Begin();

        void Step(TracedStep s);

        /// <summary>The <see cref="TracedStep.MissedBefore"/> steps before <paramref name="s"/> that will never be shown.</summary>
        void Gap(TracedStep s);
    }

    /// <summary>An aligned table, one row per step, with a header.</summary>
    internal sealed class Table(TextWriter o) : IStepWriter
    {
        public void Begin() =>
            o.WriteLine($"{"TID",7} {"COMM",-15} {"SEQ",8} {"CLASS",-6} {"TOTAL",9} {"WAIT",9} {"RUN",9} {"CPU",4} {"HOME",-8} {"MIGR",5} {"PREEMPT",7}");

        public void Step(TracedStep t)
        {
            StepRecord s = t.Step;
            string home = s.HomeCpu < 0 ? "-" : $"{s.HomeCpu} {(s.HomeHit ? "hit" : "miss")}";
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Tid,7} {Comm(t.Comm),-15} {s.Seq,8} {TaskClassNames.Name(s.Class),-6} {Time(s.TotalNs),9} {Time(s.WaitNs),9} {Time(s.RunNs),9} {s.Cpu,4} {home,-8} {s.Migrations,5} {s.Preemptions,7}{(s.Demoted ? "  demoted" : "")}"));
        }

        public void Gap(TracedStep t)
        {
            long first = t.Step.Seq - t.MissedBefore, last = t.Step.Seq - 1;
            string why = first == last ? $"seq {first} was overwritten before it was read" : $"seq {first}-{last} were overwritten before they were read";
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Tid,7} {Comm(t.Comm),-15} {"...",8} {Count(t.MissedBefore, "step")} not shown ({why})"));
        }

        private static string Comm(string comm) => comm.Length == 0 ? "-" : comm;

        /// <summary>Three significant digits and a unit: 850 ns, 41.0 us, 2.31 ms, 120 ms, 1.50 s.</summary>
        internal static string Time(long ns)
        {
            if (ns < 1000)
            {
                return ns.ToString(CultureInfo.InvariantCulture) + " ns";
            }
            foreach ((double scale, string unit) in new[] { (1e3, "us"), (1e6, "ms"), (1e9, "s") })
            {
                double v = ns / scale;
                if (v < 999.5 || unit == "s")
                {
                    string format = v < 9.995 ? "0.00" : v < 99.95 ? "0.0" : "0";
                    return v.ToString(format, CultureInfo.InvariantCulture) + " " + unit;
                }
            }
            throw new InvalidOperationException("unreachable: seconds take any value");
        }
    }

    /// <summary>One JSON object per line: <c>"type":"step"</c> with the protocol's fields, or <c>"type":"gap"</c>.</summary>
    internal sealed class JsonLines(TextWriter o) : IStepWriter
    {
        public void Begin()
        {
        }

        public void Step(TracedStep t) => o.WriteLine(JsonText.Write(w =>
        {
            StepRecord s = t.Step;
            w.WriteString("type", "step");
            w.WriteNumber("tid", t.Tid);
            w.WriteString("comm", t.Comm);
            StepJson.WriteFields(w, s.Seq, s.EndNs, s.Class, s.TotalNs, s.WaitNs, s.RunNs,
                s.Cpu, s.HomeCpu, s.HomeHit, s.Migrations, s.Preemptions, s.Demoted);
        }));

        public void Gap(TracedStep t) => o.WriteLine(JsonText.Write(w =>
        {
            w.WriteString("type", "gap");
            w.WriteNumber("tid", t.Tid);
            w.WriteString("comm", t.Comm);
            w.WriteNumber("missed", t.MissedBefore);
            w.WriteNumber("first_seq", t.Step.Seq - t.MissedBefore);
            w.WriteNumber("last_seq", t.Step.Seq - 1);
        }));
    }
}

/// <summary>A step not shown before, of thread <paramref name="Tid"/>, after <paramref name="MissedBefore"/> steps of that thread that were lost.</summary>
internal sealed record TracedStep(int Tid, string Comm, StepRecord Step, long MissedBefore);

/// <summary>
/// Turns successive <c>steps</c> answers into the steps not seen before, and counts the ones lost
/// in between, by each thread's step numbers (<c>seq</c>).
/// </summary>
/// <remarks>
/// Asking next for the steps after an answer's <c>now_ns</c> loses nothing only if the daemon read
/// its clock before the rings (it does since the first release with trace; a daemon that read it
/// after could end a step before <c>now_ns</c> without putting it in the answer). Asking for the
/// steps after the <c>now_ns</c> of the poll before (one interval earlier) is safe either way, and
/// what comes twice is dropped by its <c>seq</c>.
/// </remarks>
internal sealed class StepTracer
{
    private readonly Dictionary<int, long> _lastSeq = [];
    private long? _now;
    private long? _nowBefore;

    /// <summary>The <c>after_ns</c> of the next poll: null (every kept step) for the first two.</summary>
    public long? AfterNs => _nowBefore;

    /// <summary>The first answer: where each thread is now. Its steps are history, not shown.</summary>
    public void Start(TaskStepsReport baseline)
    {
        foreach (ThreadStepsReport t in baseline.Threads)
        {
            _lastSeq[t.Tid] = Math.Max(t.Steps, t.Recent.Count > 0 ? t.Recent.Max(s => s.Seq) : 0);
        }
        _now = baseline.NowNs;
    }

    /// <summary>The steps of <paramref name="report"/> not seen before, in the order they ended.</summary>
    public IReadOnlyList<TracedStep> Next(TaskStepsReport report)
    {
        var fresh = new List<TracedStep>();
        foreach (ThreadStepsReport t in report.Threads)
        {
            long last = _lastSeq.GetValueOrDefault(t.Tid);
            if (t.Steps < last)
            {
                last = 0; // the tid is another thread's now (the old one exited): its steps count from 1
            }
            foreach (StepRecord s in t.Recent.OrderBy(s => s.Seq))
            {
                if (s.Seq <= last)
                {
                    continue; // shown already, or history
                }
                fresh.Add(new TracedStep(t.Tid, t.Comm, s, s.Seq - last - 1));
                last = s.Seq;
            }
            _lastSeq[t.Tid] = last;
        }
        _nowBefore = _now;
        _now = report.NowNs;
        fresh.Sort((a, b) => (a.Step.EndNs, a.Tid, a.Step.Seq).CompareTo((b.Step.EndNs, b.Tid, b.Step.Seq)));
        return fresh;
    }
}
