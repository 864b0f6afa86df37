using System.Globalization;
using System.Text.Json;
using AgentSched.Client;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload agent</c>: parses its options, runs one <see cref="OpenLoopAgent"/>, prints
/// its JSON line. With <c>--phases N</c> the same process runs N such runs one after the other
/// (phases <c>--from-phase</c> to N), each behind its own start barrier and with its own samples
/// file (the paths given with ".k" appended for phase k) and JSON line: a benchmark measures
/// several workloads with one set of agents instead of paying for their start again (a process
/// start costs a large part of a second under an emulator). Every phase starts from the same seed;
/// the runaway (<c>--runaway-after</c>) is in phase <c>--runaway-phase</c> only.
/// </summary>
internal static class AgentCommand
{
    public static int Run(string[] args, string usage)
    {
        OpenLoopOptions o;
        string? socket = null, samples = null, ready = null, go = null;
        int phases = 1, fromPhase = 1, runawayPhase = 1;
        try
        {
            string? tool = null;
            int seed = 1, toolUs = 3000, pipeUs = 500, parseUs = 200, windowMs = 2000, runawayMs = 2000;
            double thinkMs = 20, seconds = 10;
            double? runawayAfter = null;
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--tool": tool = Next(); break;
                    case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--think-mean-ms": thinkMs = Positive(Next()); break;
                    case "--tool-us": toolUs = (int)Positive(Next()); break;
                    case "--pipe-us": pipeUs = (int)Positive(Next()); break;
                    case "--parse-us": parseUs = (int)Positive(Next()); break;
                    case "--seconds": seconds = Positive(Next()); break;
                    case "--window-ms": windowMs = (int)Positive(Next()); break;
                    case "--runaway-after": runawayAfter = Positive(Next()); break;
                    case "--runaway-ms": runawayMs = (int)Positive(Next()); break;
                    case "--socket": socket = Next(); break;
                    case "--samples": samples = Next(); break;
                    case "--ready-file": ready = Next(); break;
                    case "--go-file": go = Next(); break;
                    case "--phases": phases = Whole(Next()); break;
                    case "--from-phase": fromPhase = Whole(Next()); break;
                    case "--runaway-phase": runawayPhase = Whole(Next()); break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            if (tool is null) throw new ArgumentException("--tool is required");
            if ((ready is null) != (go is null)) throw new ArgumentException("--ready-file and --go-file go together");
            if (fromPhase > phases || runawayPhase > phases) throw new ArgumentException($"--from-phase and --runaway-phase name one of the {phases} phases");
            if (phases > 1 && ready is null) throw new ArgumentException("--phases needs --ready-file and --go-file: each phase starts behind its barrier");
            o = new OpenLoopOptions
            {
                ToolPath = tool, Seed = seed, ThinkMeanMs = thinkMs, ToolUs = toolUs, PipeUs = pipeUs, ParseUs = parseUs,
                Duration = TimeSpan.FromSeconds(seconds), Window = TimeSpan.FromMilliseconds(windowMs),
                RunawayAfterSeconds = runawayAfter, RunawayMs = runawayMs,
            };
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"agentsched-workload agent: {e.Message}\n{usage}");
            return 2;
        }

        using AgentSchedClient? client = socket is null ? null
            : new(new AgentSchedClientOptions { SocketPath = socket, WhenUnavailable = DaemonUnavailableBehavior.Throw });
        using var stdout = Console.OpenStandardOutput();
        for (int phase = fromPhase; phase <= phases; phase++)
        {
            string? Of(string? path) => path is null || phases == 1 ? path : $"{path}.{phase}";
            OpenLoopOptions run = phase == runawayPhase ? o : o with { RunawayAfterSeconds = null };
            OpenLoopAgent.Result r = OpenLoopAgent.Run(run, client, StartBarrier.Of(Of(ready), Of(go)));
            Report(r, client, Of(samples), phases == 1 ? null : phase, stdout);
        }
        return 0;
    }

    /// <summary>Writes a run's samples file and prints its JSON line.</summary>
    private static void Report(OpenLoopAgent.Result r, AgentSchedClient? client, string? samples, int? phase, Stream stdout)
    {
        // What agent_class itself recorded of this process: steps of its threads in each class.
        long burstRecorded = -1;
        try
        {
            if (client?.Steps(Environment.ProcessId) is { } report)
            {
                burstRecorded = report.Threads.SelectMany(t => t.Recent).Count(s => s.Class == AgentSched.Protocol.TaskClass.Burst);
            }
        }
        catch (AgentSchedException e) when (e.Code == "not_tracing")
        {
            // fallback mode, or tracing off: nothing recorded to check (-1)
        }
        if (samples is not null)
        {
            File.WriteAllText(samples, OpenLoopAgent.Samples(r.Steps));
        }
        using (var w = new Utf8JsonWriter(stdout))
        {
            w.WriteStartObject();
            if (phase is { } k) w.WriteNumber("phase", k);
            w.WriteNumber("steps", r.Steps.Count);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteNumber("mean_us", r.Steps.Count > 0 ? Math.Round(r.Steps.Average(s => s.LatencyUs), 1) : 0);
            w.WriteNumber("steps_applied", r.StepsApplied);
            w.WriteNumber("burst_steps_recorded", burstRecorded);
            w.WriteNumber("wait_us_per_run", Math.Round(r.WaitUsPerRun, 1));
            if (r.Runaway is { } run)
            {
                w.WriteNumber("runaway_start_ns", run.StartNs);
                w.WriteNumber("runaway_end_ns", run.EndNs);
            }
            w.WriteEndObject();
        }
        stdout.Write("\n"u8);
        stdout.Flush();
    }

    private static int Whole(string s) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"'{s}' is not a positive whole number");

    private static double Positive(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 ? v : throw new ArgumentException($"'{s}' is not a positive number");
}
