using System.CommandLine;
using System.CommandLine.Parsing;
using AgentSched.Cli.Commands;
using AgentSched.Client;

namespace AgentSched.Cli;

/// <summary>Builds the command tree; tests run it against their own console and environment.</summary>
public static class CliApp
{
    internal const string SocketOptionName = "--socket";

    /// <summary><c>--socket PATH</c>, accepted before or after the command name (one instance per tree: symbols know their parents).</summary>
    private static Option<string> CreateSocketOption() => new(SocketOptionName)
    {
        Description = $"agentschedd's socket (default: ${AgentSchedClientOptions.SocketEnvironmentVariable}, else /run/agentsched/agentsched.sock).",
        Recursive = true,
        HelpName = "path",
        DefaultValueFactory = _ => AgentSchedClientOptions.DefaultSocketPath(),
    };

    public static RootCommand Create(CliConsole console, CliEnvironment? environment = null)
    {
        environment ??= CliEnvironment.Host;
        var root = new RootCommand("agentsched: control the agent_class sched_ext scheduler for AI-agent hosts.");
        root.Options.Add(CreateSocketOption());
        root.Subcommands.Add(MarkCommands.CreateMark(console));
        root.Subcommands.Add(MarkCommands.CreateUnmark(console));
        root.Subcommands.Add(RunCommand.Create(console, environment));
        root.Subcommands.Add(StatusCommand.Create(console, environment));
        root.Subcommands.Add(TopCommand.Create(console, environment));
        root.Subcommands.Add(TraceCommand.Create(console, environment));
        root.Subcommands.Add(DoctorCommand.Create(console, environment));
        root.Subcommands.Add(CompletionCommand.Create(console, root));
        return root;
    }

    public static int Run(string[] args, CliConsole console, CliEnvironment? environment = null)
    {
        RootCommand root = Create(console, environment);
        // `run` takes its command after "--", untouched: parse only what is before it.
        int dashes = Array.IndexOf(args, "--");
        ParseResult parsed = root.Parse(dashes >= 0 ? args[..dashes] : args);
        RunCommand? run = parsed.CommandResult.Command as RunCommand;
        bool isRun = run is not null;
        if (run is not null)
        {
            run.CommandLine = dashes >= 0 ? args[(dashes + 1)..] : null;
        }
        else if (dashes >= 0)
        {
            parsed = root.Parse(args);
        }
        // Without "--" the command's words were parsed as options: say what is missing, not what is unknown.
        bool help = parsed.Action is System.CommandLine.Help.HelpAction;
        if (run is not null && !help && (run.CommandLine is null || parsed.Errors.Count == 0) && run.CommandLineError() is { } runError)
        {
            console.Error.WriteLine($"agentsched: run: {runError}");
            return (int)RunReturnCode.Failed;
        }
        if (parsed.Errors.Count > 0)
        {
            foreach (ParseError error in parsed.Errors)
            {
                console.Error.WriteLine($"agentsched: {error.Message}");
            }
            console.Error.WriteLine($"agentsched: see 'agentsched {(parsed.CommandResult.Command is RootCommand ? "" : parsed.CommandResult.Command.Name + " ")}--help'");
            return isRun ? (int)RunReturnCode.Failed : (int)ReturnCode.UsageError;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }

    /// <summary>A client for one command: unavailability is an error the command reports (exit 3), not a no-op.</summary>
    internal static AgentSchedClient Connect(ParseResult parsed, TimeSpan? timeout = null) => new(new AgentSchedClientOptions
    {
        SocketPath = SocketPath(parsed),
        WhenUnavailable = DaemonUnavailableBehavior.Throw,
        RequestTimeout = timeout ?? TimeSpan.FromSeconds(10),
    });

    /// <summary>The --socket value (or its default).</summary>
    internal static string SocketPath(ParseResult parsed) => parsed.GetValue<string>(SocketOptionName)!;

    /// <summary>"agentsched: agentschedd is not reachable at PATH: why (what to do)", exit 3.</summary>
    internal static int Unavailable(CliConsole console, AgentSchedUnavailableException e)
    {
        console.Error.WriteLine($"agentsched: {e.Detail}");
        return (int)ReturnCode.DaemonUnavailable;
    }
}
