using System.Globalization;
using System.Text.Json;
using AgentSched.Client;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload agent</c>: parses its options, runs one <see cref="OpenLoopAgent"/>, prints
/// its JSON line. With <c>--agents K</c> the process runs K agents, each on a thread of its own
/// (agent j from seed + j, its paths with ".j" appended, its JSON lines with <c>"agent": j</c>), all
/// sharing one client, as an agent runtime that hosts several agents does; the runaway is agent 0's.
/// An agent that fails is reported at once on standard error; the others run on, and the process
/// exits 1.
/// With <c>--phases N</c> the same process runs N such runs one after the other
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
        int phases = 1, fromPhase = 1, runawayPhase = 1, agents = 1;
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
                    case "--agents": agents = Whole(Next()); break;
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
        string? Of(string? path, int? agent, int phase) =>
            path is null ? null : path + (agent is { } j && agents > 1 ? $".{j}" : "") + (phases > 1 ? $".{phase}" : "");
        // One barrier a phase for the whole process: its ready file says every agent is waiting.
        Action?[] barriers = [.. Enumerable.Range(0, phases + 1).Select(k => StartBarrier.Of(Of(ready, null, k), Of(go, null, k), agents))];
        int failed = 0;
        void RunAgent(int j)
        {
            try
            {
                OpenLoopOptions mine = o with { Seed = o.Seed + j, RunawayAfterSeconds = j == 0 ? o.RunawayAfterSeconds : null };
                for (int phase = fromPhase; phase <= phases; phase++)
                {
                    OpenLoopOptions run = phase == runawayPhase ? mine : mine with { RunawayAfterSeconds = null };
                    OpenLoopAgent.Result r = OpenLoopAgent.Run(run, client, barriers[phase]);
                    Report(r, client, Of(samples, j, phase), phases == 1 ? null : phase, agents == 1 ? null : j, stdout);
                }
            }
            catch (Exception e) when (agents > 1)
            {
                // Its phases' barriers no longer wait for it (the harness opens a phase's go
                // without waiting for its ready file, bar the first); its missing lines tell.
                Console.Error.WriteLine($"agentsched-workload agent: agent {j}: {e}");
                Interlocked.Exchange(ref failed, 1);
            }
        }
        if (agents == 1)
        {
            RunAgent(0);
            return 0;
        }
        Thread[] threads = [.. Enumerable.Range(0, agents).Select(j => new Thread(() => RunAgent(j)) { Name = $"agent {j}" })];
        foreach (Thread t in threads) t.Start();
        foreach (Thread t in threads) t.Join();
        return failed;
    }

    /// <summary>Writes a run's samples file and prints its JSON line.</summary>
    private static void Report(OpenLoopAgent.Result r, AgentSchedClient? client, string? samples, int? phase, int? agent, Stream stdout)
    {
        // What agent_class itself recorded of the agent's thread: its steps in the BURST class.
        long burstRecorded = -1;
        try
        {
            if (client?.Steps(r.Tid) is { } report)
            {
                burstRecorded = report.Threads.Where(t => t.Tid == r.Tid).SelectMany(t => t.Recent).Count(s => s.Class == AgentSched.Protocol.TaskClass.Burst);
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
        lock (stdout)
        {
            Line(r, phase, agent, burstRecorded, stdout);
        }
    }

    private static void Line(OpenLoopAgent.Result r, int? phase, int? agent, long burstRecorded, Stream stdout)
    {
        using (var w = new Utf8JsonWriter(stdout))
        {
            w.WriteStartObject();
            if (phase is { } k) w.WriteNumber("phase", k);
            if (agent is { } j) w.WriteNumber("agent", j);
            w.WriteNumber("steps", r.Steps.Count);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteNumber("mean_us", r.Steps.Count > 0 ? Math.Round(r.Steps.Average(s => s.LatencyUs), 1) : 0);
            w.WriteNumber("steps_applied", r.StepsApplied);
            w.WriteNumber("burst_steps_recorded", burstRecorded);
            w.WriteNumber("wait_us_per_run", Math.Round(r.WaitUsPerRun, 1));
            w.WriteNumber("tool_crashes", r.ToolCrashes);
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
