using System.Diagnostics;
using System.Globalization;
using System.Text;
using AgentSched.Client;
using AgentSched.Interop.Kernel;

namespace AgentSched.Workload;

/// <summary>How one open-loop agent runs (see <see cref="OpenLoopAgent"/>).</summary>
internal sealed record OpenLoopOptions
{
    public int Seed { get; init; } = 1;
    public double ThinkMeanMs { get; init; } = 20;
    public required string ToolPath { get; init; }
    public int ToolUs { get; init; } = 3000;
    public int PipeUs { get; init; } = 500;
    public int ParseUs { get; init; } = 200;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Seconds into the run after which the next tool call is a runaway that spins <see cref="RunawayMs"/>; null: none.</summary>
    public double? RunawayAfterSeconds { get; init; }

    public int RunawayMs { get; init; } = 2000;
}

/// <summary>
/// The think times of an agent: the wait for the model's reply, drawn from an exponential
/// distribution with the given mean (capped at ten times it), from a seeded generator, so the same
/// seed gives the same sequence on every run and under every scheduler.
/// </summary>
internal sealed class ThinkTimes(int seed, double meanMs)
{
    private readonly Random _random = new(seed);

    public double NextMs() => Math.Min(-meanMs * Math.Log(1 - _random.NextDouble()), 10 * meanMs);
}

/// <summary>One step of an open-loop agent, as recorded.</summary>
/// <param name="StartNs">CLOCK_MONOTONIC when the model's reply "arrived" (the think ended).</param>
/// <param name="LatencyUs">From then until the parse was done: the step's latency.</param>
/// <param name="ToolStartUs">From just before the agent started the tool to the tool's first instruction (-1 for a pipeline, whose first program is the shell).</param>
/// <param name="Kind">tool, pipeline or runaway; crashed for a tool killed by a signal (not a step that counts).</param>
internal readonly record struct OpenLoopStep(long StartNs, double LatencyUs, double ToolStartUs, string Kind);

/// <summary>
/// An agent shaped like a real one, for the benchmark: it thinks (sleeps, modelling the wait for
/// the model's reply), then calls a tool — it forks and execs a real program, <c>agent-tool</c>
/// burning a few ms of CPU, or every third step a short shell pipeline (static busybox's sh and
/// md5sum: a dynamically linked shell spends most of its start in the loader, which an emulator
/// inflates far more than the rest) — then parses the result
/// (<c>ParseUs</c> of CPU), and thinks again. Its CPU need is set by the think times, not by how
/// fast steps complete, so a scheduler that favours it cannot make it take more. Tools start with
/// posix_spawn (<see cref="ProcessSpawn"/>), as Python's subprocess does where it can, not with
/// .NET's heavier <c>Process.Start</c>. With a client it marks itself the way docs/client.md tells
/// runtime authors to: a step scope on the orchestration thread (currentThreadOnly) around the
/// tool call and the parse, with the tool spawned from that thread inside it, so that the tool
/// starts in the step's class (agent_class passes BURST to a child at fork; in fallback mode the
/// child inherits the thread's nice).
/// </summary>
internal static class OpenLoopAgent
{
    /// <summary>The shell and filter of the pipeline step (Debian's busybox-static; scripts/bootstrap installs it).</summary>
    public const string Busybox = "/bin/busybox";

    /// <summary>
    /// Tools a run lets die of a signal before it fails. Under multi-threaded TCG a program now and
    /// then dies of a fault the emulator made (busybox of a general protection fault, cc of
    /// SIGSEGV); such a step is recorded as "crashed" and left out, the next one fails the run.
    /// </summary>
    public const int MaxToolCrashes = 5;

    /// <param name="Tid">The agent's thread, which ran the steps.</param>
    public sealed record Result(List<OpenLoopStep> Steps, double Seconds, long StepsApplied, double WaitUsPerRun, (long StartNs, long EndNs)? Runaway, int Tid)
    {
        public int ToolCrashes => Steps.Count(s => s.Kind == "crashed");
    }

    public static Result Run(OpenLoopOptions o, AgentSchedClient? client, Action? beforeStart = null)
    {
        var think = new ThinkTimes(o.Seed, o.ThinkMeanMs);
        var steps = new List<OpenLoopStep>();
        long applied = 0;
        (long, long)? runaway = null;
        int tid = StepLoop.GetTid();
        beforeStart?.Invoke();
        (long Exec, long Delay, long Runs)? s0 = StepLoop.Schedstat(tid);
        var clock = Stopwatch.StartNew();
        for (int i = 0; ; i++)
        {
            // A step whose reply would arrive after the run's end is not started: the run ends on
            // time instead of sleeping out a last think of up to ten times the mean.
            TimeSpan thinking = TimeSpan.FromMilliseconds(think.NextMs());
            if (clock.Elapsed + thinking >= o.Duration) break;
            Thread.Sleep(thinking);
            long start = Stopwatch.GetTimestamp();
            string kind = runaway is null && o.RunawayAfterSeconds is { } after && clock.Elapsed.TotalSeconds >= after ? "runaway"
                : i % 3 == 2 ? "pipeline" : "tool";
            using (StepScope? step = client?.BeginStep(o.Window, currentThreadOnly: true))
            {
                if (step?.Applied == true) applied++;
                string[] argv = kind switch
                {
                    "runaway" => [o.ToolPath, "--spin-ms", o.RunawayMs.ToString(CultureInfo.InvariantCulture)],
                    "pipeline" => [Busybox, "sh", "-c", $"'{o.ToolPath}' {o.PipeUs} | {Busybox} md5sum"],
                    _ => [o.ToolPath, o.ToolUs.ToString(CultureInfo.InvariantCulture)],
                };
                long launched = Stopwatch.GetTimestamp();
                // Spawned from this thread, inside its step: the tool starts in the thread's class.
                string output;
                int exit;
                using (SpawnedProcess tool = ProcessSpawn.Start(argv[0], argv, captureStdout: true))
                {
                    output = tool.ReadStdoutToEnd();
                    exit = tool.WaitForExit();
                }
                if (exit > 128 && steps.Count(s => s.Kind == "crashed") < MaxToolCrashes)
                {
                    Console.Error.WriteLine($"agentsched-workload agent: {string.Join(' ', argv)} was killed by signal {exit - 128}; step left out");
                    steps.Add(new OpenLoopStep(start, Stopwatch.GetElapsedTime(start).TotalMicroseconds, -1, "crashed"));
                    continue;
                }
                if (exit != 0)
                {
                    throw new IOException($"{argv[0]} exited with {exit} (its standard error went to this program's)");
                }
                double toolStartUs = -1;
                if (kind != "pipeline")
                {
                    long entry = long.Parse(output.AsSpan().Trim(), CultureInfo.InvariantCulture);
                    toolStartUs = (entry - launched) / 1000.0; // Stopwatch ticks are CLOCK_MONOTONIC ns on Linux
                    if (kind == "runaway") runaway = (entry, Stopwatch.GetTimestamp());
                }
                ThreadCpu.Burn(o.ParseUs * 1000L);
                steps.Add(new OpenLoopStep(start, Stopwatch.GetElapsedTime(start).TotalMicroseconds, toolStartUs, kind));
            }
        }
        (long Exec, long Delay, long Runs)? s1 = StepLoop.Schedstat(tid);
        double wait = s0 is { } a && s1 is { } b && b.Runs > a.Runs ? (b.Delay - a.Delay) / 1000.0 / (b.Runs - a.Runs) : -1;
        return new Result(steps, clock.Elapsed.TotalSeconds, applied, wait, runaway, tid);
    }

    /// <summary>The samples file: one step per line, "start_ns latency_us tool_start_us kind".</summary>
    public static string Samples(IEnumerable<OpenLoopStep> steps)
    {
        var sb = new StringBuilder();
        foreach (OpenLoopStep s in steps)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{s.StartNs} {s.LatencyUs:F1} {s.ToolStartUs:F1} {s.Kind}\n");
        }
        return sb.ToString();
    }
}
