using System.CommandLine;
using System.CommandLine.Parsing;
using AgentSched.Cli.Commands;
using AgentSched.Interop.Kernel;

namespace AgentSched.Cli;

/// <summary>Builds the command tree; tests run it against their own console and status source.</summary>
public static class CliApp
{
    public static RootCommand Create(CliConsole console, Func<SchedExtStatus>? readStatus = null)
    {
        readStatus ??= () => SchedExtStatus.Read();
        var root = new RootCommand("agentsched: control the agent_class sched_ext scheduler for AI-agent hosts.");
        root.Subcommands.Add(StatusCommand.Create(console, readStatus));
        return root;
    }

    public static int Run(string[] args, CliConsole console, Func<SchedExtStatus>? readStatus = null)
    {
        ParseResult parsed = Create(console, readStatus).Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (ParseError error in parsed.Errors)
            {
                console.Error.WriteLine($"agentsched: {error.Message}");
            }
            console.Error.WriteLine("agentsched: see 'agentsched --help'");
            return (int)ReturnCode.UsageError;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }
}
