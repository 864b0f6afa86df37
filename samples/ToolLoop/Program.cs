// A tool-calling loop, the shape of an agent runtime, using AgentSched.Client:
//   plan (CPU) -> run a tool (a child process) -> parse its output -> next step.
// Each step runs inside a step window, so this process is BURST while it plans and parses;
// each tool is started already classified, so it is BURST from its first instruction.
// Without agentschedd the client warns once and the loop runs unprioritised.
//
//   dotnet run --project samples/ToolLoop [-- --socket PATH] [--steps N]
using System.Diagnostics;
using AgentSched.Client;
using AgentSched.Protocol;

string? socket = null;
int steps = 5;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--socket": socket = args[++i]; break;
        case "--steps": steps = int.Parse(args[++i]); break;
        default: Console.Error.WriteLine($"usage: ToolLoop [--socket PATH] [--steps N] (unknown: {args[i]})"); return 2;
    }
}

var options = new AgentSchedClientOptions();
if (socket is not null) options.SocketPath = socket;
await using var scheduler = new AgentSchedClient(options);

// The tools this "agent" calls in turn; a real runtime would get them from its model.
string[][] tools = [["uname", "-r"], ["date", "+%T"], ["sh", "-c", "ls / | wc -l"], ["nproc"]];

for (int step = 1; step <= steps; step++)
{
    // The step window: BURST until disposed, and never longer than 2 s whatever happens.
    await using StepScope window = await scheduler.BeginStepAsync(TimeSpan.FromSeconds(2));

    string[] tool = Plan(step, tools);
    var start = new ProcessStartInfo(tool[0]) { RedirectStandardOutput = true };
    foreach (string a in tool[1..]) start.ArgumentList.Add(a);

    // The tool is marked before its first instruction, for at most 5 s.
    using Process process = scheduler.StartProcess(start, TaskClass.Burst, TimeSpan.FromSeconds(5));
    string output = (await process.StandardOutput.ReadToEndAsync()).Trim();
    await process.WaitForExitAsync();

    Console.WriteLine($"step {step}: {string.Join(' ', tool)} -> {output} (exit {process.ExitCode}, step window {(window.Applied ? "open" : "not open: no daemon")})");
}
return 0;

// "Planning": a few milliseconds of CPU that decide the next tool.
static string[] Plan(int step, string[][] tools)
{
    long acc = step;
    for (int i = 0; i < 2_000_000; i++) acc = acc * 6364136223846793005 + 1442695040888963407;
    return tools[(int)((ulong)acc % (ulong)tools.Length)];
}
