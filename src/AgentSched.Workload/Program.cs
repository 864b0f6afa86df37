using AgentSched.Workload;

// agentsched-workload steps [--steps N] [--seconds S] [--tool-us US] [--parse-us US] [--json]
//                           [--thread-steps SOCKET] [--linger-ms MS] [--slice-us US] [--samples FILE]
//                           [--ready-file FILE --go-file FILE]
//   Runs one agent loop (see StepLoop) and prints its step rate, latency percentiles and the
//   threads' mean run-queue wait per run (schedstat).
//   --thread-steps: the agent and tool threads each open a BURST step for themselves alone
//   through agentschedd at SOCKET. --linger-ms: after printing, wait MS with both threads alive.
//   --slice-us: both threads ask for a US time slice (sched_setattr sched_runtime; Linux 6.12+).
//   --samples: also write every step's latency, one whole µs per line, to FILE.
//   --ready-file/--go-file: once both threads are set up, create the ready file, then open the go
//   file, a FIFO, and wait there until the harness opens it for writing (a start barrier for
//   several loops and their hogs; see StartBarrier).
// agentsched-workload spin [--seconds S] [--run-us US] [--sleep-us US] [--threads N]
//   Burns CPU: run-us of thread CPU time, then sleeps sleep-us (0: never sleeps), for S seconds,
//   on N threads of this process (default 1), which start together once all N exist.
// agentsched-workload agent --tool PATH [--seed N] [--think-mean-ms MS] [--tool-us US] [--pipe-us US]
//                           [--parse-us US] [--seconds S] [--window-ms MS] [--runaway-after S]
//                           [--runaway-ms MS] [--socket PATH] [--samples FILE] [--ready-file F --go-file F]
//                           [--phases N [--from-phase F] [--runaway-phase K]] [--agents K]
//   One open-loop agent (see OpenLoopAgent): think, call a tool (agent-tool at PATH, or a pipeline
//   through it), parse, repeat, for S seconds. --socket: mark through agentschedd there the way
//   docs/client.md says (a step scope on the agent thread; the tool, spawned inside it, inherits its
//   class). Prints one JSON line; --samples
//   writes every step as "start_ns latency_us tool_start_us kind". --phases: runs F..N one after the
//   other in the same process, each behind its own barrier. --agents: K agents, a thread each, from
//   seeds N..N+K-1, paths with ".j" appended for agent j; the runaway is agent 0's (see AgentCommand).
// agentsched-workload api --socket PATH ITEM...
//   A scripted raw client of agentschedd's socket (see ApiScript).
// agentsched-workload api-bench [--socket PATH] [--op mark|step|ping|status|self-step|getpid] [--clients N] [--seconds S]
//   Round-trip latency and request rate of the socket API (see ApiBench).
// agentsched-workload spawn-bench --socket PATH --cli PATH [--runs N]
//   Process.Start of /bin/true against AgentSchedClient.StartProcess of it (see SpawnBench).
// agentsched-workload fuzz --socket PATH [--seed N] [--lines N] [--connections N]
//   Fuzzes the socket protocol (see ProtocolFuzzer): prints one JSON line of figures, each broken
//   promise on standard error, and exits 1 if there was one.
const string Usage = "usage: agentsched-workload steps [--steps N] [--seconds S] [--tool-us US] [--parse-us US] [--json] [--thread-steps SOCKET] [--linger-ms MS] [--slice-us US] [--samples FILE] [--ready-file FILE --go-file FILE]\n"
    + "       agentsched-workload spin [--seconds S] [--run-us US] [--sleep-us US] [--threads N]\n"
    + "       agentsched-workload agent --tool PATH [--seed N] [--think-mean-ms MS] [--tool-us US] [--pipe-us US] [--parse-us US] [--seconds S] [--window-ms MS] [--runaway-after S] [--runaway-ms MS] [--socket PATH] [--samples FILE] [--ready-file F --go-file F] [--phases N [--from-phase F] [--runaway-phase K]] [--agents K]\n"
    + "       agentsched-workload api --socket PATH ITEM...\n"
    + "       agentsched-workload api-bench [--socket PATH] [--op mark|step|ping|status|self-step|getpid] [--clients N] [--seconds S]\n"
    + "       agentsched-workload spawn-bench --socket PATH --cli PATH [--runs N]\n"
    + "       agentsched-workload fuzz --socket PATH [--seed N] [--lines N] [--connections N]";

if (args.Length >= 3 && args[0] == "api" && args[1] == "--socket")
{
    return ApiScript.Run(args[2], args[3..]);
}
if (args.Length >= 1 && args[0] == "api-bench")
{
    if (OptionPairs(args, ["--socket", "--op", "--clients", "--seconds"]) is not { } o)
    {
        return 2;
    }
    return ApiBench.Run(o.GetValueOrDefault("--socket", "/run/agentsched/agentsched.sock"), o.GetValueOrDefault("--op", "ping"),
        o.TryGetValue("--clients", out string? clients) ? PositiveInt(clients) : 1,
        o.TryGetValue("--seconds", out string? benchSeconds) ? double.Parse(benchSeconds, System.Globalization.CultureInfo.InvariantCulture) : 5);
}
if (args.Length >= 1 && args[0] == "spawn-bench")
{
    if (OptionPairs(args, ["--socket", "--cli", "--runs"]) is not { } o)
    {
        return 2;
    }
    if (!o.TryGetValue("--socket", out string? socket) || !o.TryGetValue("--cli", out string? cli) || args.Length % 2 == 0)
    {
        Console.Error.WriteLine($"agentsched-workload: spawn-bench needs --socket and --cli\n{Usage}");
        return 2;
    }
    return SpawnBench.Run(socket, cli, o.TryGetValue("--runs", out string? runs) ? PositiveInt(runs) : 50);
}
if (args.Length >= 1 && args[0] == "fuzz")
{
    if (OptionPairs(args, ["--socket", "--seed", "--lines", "--connections"]) is not { } o)
    {
        return 2;
    }
    ProtocolFuzzer.Options options;
    try
    {
        if (!o.TryGetValue("--socket", out string? socket) || args.Length % 2 == 0)
        {
            throw new ArgumentException("fuzz needs --socket, and a value after each option");
        }
        options = new ProtocolFuzzer.Options(socket,
            o.TryGetValue("--seed", out string? seed) ? PositiveInt(seed) : 1,
            o.TryGetValue("--lines", out string? fuzzLines) ? long.TryParse(fuzzLines, out long n) && n > 0 ? n : throw new ArgumentException($"'{fuzzLines}' is not a positive whole number") : 100_000,
            o.TryGetValue("--connections", out string? connections) ? PositiveInt(connections) : 4);
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"agentsched-workload: {e.Message}\n{Usage}");
        return 2;
    }
    ProtocolFuzzer.Result r = ProtocolFuzzer.Run(options);
    foreach (string v in r.Violations)
    {
        Console.Error.WriteLine($"agentsched-workload fuzz: {v}");
    }
    Console.WriteLine(ProtocolFuzzer.Json(r, options));
    return r.ViolationCount == 0 && r.ExpectedAnswers == r.Answers ? 0 : 1;
}
if (args.Length >= 1 && args[0] == "agent")
{
    return AgentCommand.Run(args[1..], Usage);
}
if (args.Length == 0 || args[0] is not ("steps" or "spin"))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
int steps = int.MaxValue, toolUs = 2000, parseUs = 200, runUs = 7000, sleepUs = 0, lingerMs = 0, sliceUs = 0, threads = 1;
string? stepSocket = null, samplesPath = null, readyFile = null, goFile = null;
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
            case "--ready-file": readyFile = Next(); break;
            case "--go-file": goFile = Next(); break;
            case "--run-us": runUs = PositiveInt(Next()); break;
            case "--threads": threads = PositiveInt(Next()); break;
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
    // --threads N: N threads (this one and N - 1 started with small stacks) run the loop together:
    // the others block until the last is started, then the clock starts and every one runs until
    // it passes --seconds.
    var clock = new System.Diagnostics.Stopwatch();
    using var go = new ManualResetEventSlim(false);
    long rounds = 0;
    void Spin()
    {
        go.Wait();
        long mine = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            ThreadCpu.Burn(runUs * 1000L);
            if (sleepUs > 0)
            {
                Thread.Sleep(TimeSpan.FromMicroseconds(sleepUs));
            }
            mine++;
        }
        Interlocked.Add(ref rounds, mine);
    }
    var others = new Thread[threads - 1];
    for (int t = 0; t < others.Length; t++)
    {
        others[t] = new Thread(Spin, maxStackSize: 256 * 1024) { IsBackground = true };
        others[t].Start();
    }
    clock.Start();
    go.Set();
    Spin();
    foreach (Thread t in others)
    {
        t.Join();
    }
    string per = threads > 1 ? $" on {threads} threads" : "";
    Console.WriteLine($"{rounds} rounds of {runUs} us{per} in {clock.Elapsed.TotalSeconds:F1} s");
    return 0;
}

if ((readyFile is null) != (goFile is null))
{
    Console.Error.WriteLine($"agentsched-workload: --ready-file and --go-file go together\n{Usage}");
    return 2;
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
}, (ulong)sliceUs * 1000, StartBarrier.Of(readyFile, goFile));
return 0;

// "--name value" pairs after the command word (a last word without a value is ignored); null, after
// saying so with the usage, when a name is not one of `known`.
Dictionary<string, string>? OptionPairs(string[] words, string[] known)
{
    var pairs = new Dictionary<string, string>();
    for (int i = 1; i + 1 < words.Length; i += 2)
    {
        if (!known.Contains(words[i]))
        {
            Console.Error.WriteLine($"agentsched-workload: unknown option {words[i]}\n{Usage}");
            return null;
        }
        pairs[words[i]] = words[i + 1];
    }
    return pairs;
}

static int PositiveInt(string s) =>
    int.TryParse(s, out int v) && v > 0 ? v : throw new ArgumentException($"'{s}' is not a positive whole number");
