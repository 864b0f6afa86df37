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
/// <c>--cli</c>). Prints one JSON line per variant, in bench-run's shape:
/// <c>{"variant":..,"runs":..,"median_us":..,"p10_us":..,"p90_us":..}</c>.
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
            Time(Plain); // warm the page cache and the JIT-free paths alike
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

    private static void Print(string variant, List<long> ticks)
    {
        double[] us = ticks.Select(t => t * 1e6 / Stopwatch.Frequency).Order().ToArray();
        double At(double q) => us[Math.Min(us.Length - 1, (int)(q * us.Length))];
        double median = us.Length % 2 == 1 ? us[us.Length / 2] : (us[us.Length / 2 - 1] + us[us.Length / 2]) / 2;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"variant\":\"{variant}\",\"runs\":{us.Length},\"median_us\":{median:F0},\"p10_us\":{At(0.1):F0},\"p90_us\":{At(0.9):F0}}}"));
    }
}
