using System.CommandLine;
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
        return parsed.Invoke(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }
}
