using AgentSched.Workload;

// agentsched-workload steps [--steps N] [--seconds S] [--tool-us US] [--parse-us US] [--json]
//                           [--thread-steps SOCKET] [--linger-ms MS] [--slice-us US] [--samples FILE]
//   Runs one agent loop (see StepLoop) and prints its step rate, latency percentiles and the
//   threads' mean run-queue wait per run (schedstat).
//   --thread-steps: the agent and tool threads each open a BURST step for themselves alone
//   through agentschedd at SOCKET. --linger-ms: after printing, wait MS with both threads alive.
//   --slice-us: both threads ask for a US time slice (sched_setattr sched_runtime; Linux 6.12+).
//   --samples: also write every step's latency, one whole µs per line, to FILE.
// agentsched-workload spin [--seconds S] [--run-us US] [--sleep-us US]
//   Burns CPU: run-us of thread CPU time, then sleeps sleep-us (0: never sleeps), for S seconds.
// agentsched-workload slice --us US PID...
//   Asks the kernel for a US time slice (sched_setattr sched_runtime, Linux 6.12+) for every
//   thread of each PID, as it stands now; prints the threads changed.
// agentsched-workload api --socket PATH ITEM...
//   A scripted raw client of agentschedd's socket (see ApiScript).
// agentsched-workload api-bench [--socket PATH] [--op mark|step|ping|status] [--clients N] [--seconds S]
//   Round-trip latency and request rate of the socket API (see ApiBench).
const string Usage = "usage: agentsched-workload steps [--steps N] [--seconds S] [--tool-us US] [--parse-us US] [--json] [--thread-steps SOCKET] [--linger-ms MS] [--slice-us US] [--samples FILE]\n"
    + "       agentsched-workload spin [--seconds S] [--run-us US] [--sleep-us US]\n"
    + "       agentsched-workload slice --us US PID...\n"
    + "       agentsched-workload api --socket PATH ITEM...\n"
    + "       agentsched-workload api-bench [--socket PATH] [--op mark|step|ping|status] [--clients N] [--seconds S]";

if (args.Length >= 3 && args[0] == "api" && args[1] == "--socket")
{
    return ApiScript.Run(args[2], args[3..]);
}
if (args.Length >= 1 && args[0] == "slice")
{
    if (args.Length < 4 || args[1] != "--us" || !int.TryParse(args[2], out int us) || us <= 0
        || !args[3..].All(a => int.TryParse(a, out int pid) && pid > 0))
    {
        Console.Error.WriteLine($"agentsched-workload: slice takes --us US (a positive whole number) and one or more pids\n{Usage}");
        return 2;
    }
    foreach (string pid in args[3..])
    {
        foreach (string task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            int tid = int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture);
            var attr = AgentSched.Interop.Kernel.TaskScheduling.Get(tid);
            AgentSched.Interop.Kernel.TaskScheduling.Set(tid, attr with { RuntimeNs = (ulong)us * 1000, Flags = 0 });
            Console.WriteLine($"{tid} slice {us} us");
        }
    }
    return 0;
}
if (args.Length >= 1 && args[0] == "api-bench")
{
    string socket = "/run/agentsched/agentsched.sock", op = "ping";
    int clients = 1;
    double benchSeconds = 5;
    for (int i = 1; i + 1 < args.Length; i += 2)
    {
        switch (args[i])
        {
            case "--socket": socket = args[i + 1]; break;
            case "--op": op = args[i + 1]; break;
            case "--clients": clients = PositiveInt(args[i + 1]); break;
            case "--seconds": benchSeconds = double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
            default: Console.Error.WriteLine($"agentsched-workload: unknown option {args[i]}\n{Usage}"); return 2;
        }
    }
    return ApiBench.Run(socket, op, clients, benchSeconds);
}
if (args.Length == 0 || args[0] is not ("steps" or "spin"))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
int steps = int.MaxValue, toolUs = 2000, parseUs = 200, runUs = 7000, sleepUs = 0, lingerMs = 0, sliceUs = 0;
string? stepSocket = null, samplesPath = null;
double seconds = 10;
bool json = false;
for (int i = 1; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    try
    {
        switch (args[i])
        {
            case "--steps": steps = PositiveInt(Next()); break;
            case "--seconds": seconds = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--tool-us": toolUs = PositiveInt(Next()); break;
            case "--parse-us": parseUs = PositiveInt(Next()); break;
            case "--json": json = true; break;
            case "--thread-steps": stepSocket = Next(); break;
            case "--linger-ms": lingerMs = PositiveInt(Next()); break;
            case "--slice-us": sliceUs = PositiveInt(Next()); break;
            case "--samples": samplesPath = Next(); break;
            case "--run-us": runUs = PositiveInt(Next()); break;
            case "--sleep-us": sleepUs = int.TryParse(Next(), out int us) && us >= 0 ? us : throw new ArgumentException("--sleep-us takes a whole number >= 0"); break;
            default: throw new ArgumentException($"unknown option {args[i]}");
        }
    }
    catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
    {
        Console.Error.WriteLine($"agentsched-workload: {e.Message}\n{Usage}");
        return 2;
    }
}

if (args[0] == "spin")
{
    var clock = System.Diagnostics.Stopwatch.StartNew();
    long rounds = 0;
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        ThreadCpu.Burn(runUs * 1000L);
        if (sleepUs > 0)
        {
            Thread.Sleep(TimeSpan.FromMicroseconds(sleepUs));
        }
        rounds++;
    }
    Console.WriteLine($"{rounds} rounds of {runUs} us in {clock.Elapsed.TotalSeconds:F1} s");
    return 0;
}

using AgentSched.Client.AgentSchedClient? client = stepSocket is null ? null
    : new(new AgentSched.Client.AgentSchedClientOptions { SocketPath = stepSocket, WhenUnavailable = AgentSched.Client.DaemonUnavailableBehavior.Throw });
StepLoop.Run(steps, TimeSpan.FromSeconds(seconds), toolUs, parseUs, client, r =>
{
    if (samplesPath is not null)
    {
        File.WriteAllLines(samplesPath, r.LatenciesUs.Select(us => Math.Round(us).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }
    Console.WriteLine(json ? r.ToJson() : r.ToText());
    Console.Out.Flush();
    Thread.Sleep(lingerMs);
}, (ulong)sliceUs * 1000);
return 0;

static int PositiveInt(string s) =>
    int.TryParse(s, out int v) && v > 0 ? v : throw new ArgumentException($"'{s}' is not a positive whole number");
