using System.Diagnostics;
using System.Globalization;
using AgentSched.Client;
using AgentSched.Protocol;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload spawn-bench --socket PATH --cli PATH [--runs N]</c>: what starting a tool
/// already classified costs an agent runtime written in .NET. Times, N times each and interleaved,
/// <see cref="Process.Start(ProcessStartInfo)"/> of <c>/bin/true</c> to its exit (the floor) and
/// <see cref="AgentSchedClient.StartProcess"/> of it as BURST to its exit (through the CLI at
/// <c>--cli</c>). Prints one line per variant, its name and then each run's time in whole µs, for
/// scripts/lib/bench-run to take its statistics as it does for its own runs.
/// </summary>
internal static class SpawnBench
{
    public static int Run(string socketPath, string cli, int runs)
    {
        using var client = new AgentSchedClient(new AgentSchedClientOptions { SocketPath = socketPath, CliPath = cli, WhenUnavailable = DaemonUnavailableBehavior.Throw });
        var tool = new ProcessStartInfo("/bin/true") { UseShellExecute = false };
        long Time(Func<Process> start)
        {
            long t0 = Stopwatch.GetTimestamp();
            using Process p = start();
            p.WaitForExit();
            long elapsed = Stopwatch.GetTimestamp() - t0;
            if (p.ExitCode != 0) throw new InvalidOperationException($"/bin/true exited with {p.ExitCode}");
            return elapsed;
        }
        Process Plain() => Process.Start(tool)!;
        Process Spawn() => client.StartProcess(tool, TaskClass.Burst);
        for (int i = 0; i < 3; i++)
        {
            Time(Plain); // warm the page cache for both
            Time(Spawn);
        }
        var plain = new List<long>(runs);
        var spawn = new List<long>(runs);
        for (int i = 0; i < runs; i++)
        {
            plain.Add(Time(Plain));
            spawn.Add(Time(Spawn));
        }
        Print("process-start", plain);
        Print("spawn", spawn);
        return 0;
    }

    private static void Print(string variant, List<long> ticks) =>
        Console.WriteLine(variant + " " + string.Join(' ', ticks.Select(t => (t * 1_000_000 / Stopwatch.Frequency).ToString(CultureInfo.InvariantCulture))));
}
