using AgentSched.Workload;

// agentsched-workload steps [--steps N] [--seconds S] [--tool-us US] [--parse-us US] [--json]
//   Runs one agent loop (see StepLoop) and prints its step rate and latency percentiles.
const string Usage = "usage: agentsched-workload steps [--steps N] [--seconds S] [--tool-us US] [--parse-us US] [--json]";

if (args.Length == 0 || args[0] != "steps")
{
    Console.Error.WriteLine(Usage);
    return 2;
}
int steps = int.MaxValue, toolUs = 2000, parseUs = 200;
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
            default: throw new ArgumentException($"unknown option {args[i]}");
        }
    }
    catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
    {
        Console.Error.WriteLine($"agentsched-workload: {e.Message}\n{Usage}");
        return 2;
    }
}

StepResult r = StepLoop.Run(steps, TimeSpan.FromSeconds(seconds), toolUs, parseUs);
Console.WriteLine(json ? r.ToJson() : r.ToText());
return 0;

static int PositiveInt(string s) =>
    int.TryParse(s, out int v) && v > 0 ? v : throw new ArgumentException($"'{s}' is not a positive whole number");
