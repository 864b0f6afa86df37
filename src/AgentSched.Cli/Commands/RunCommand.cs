using System.CommandLine;
using AgentSched.Client;
using AgentSched.Interop;
using AgentSched.Protocol;

namespace AgentSched.Cli.Commands;

/// <summary>
/// <c>agentsched run [--class C] [--window W] -- CMD ARGS</c>: marks this process, then execs CMD
/// in it, so CMD is classified before its first instruction (like chrt or taskset). CMD's exit
/// code is agentsched's; 125/126/127 are agentsched's own failures (<see cref="RunReturnCode"/>).
/// </summary>
internal sealed class RunCommand : Command
{
    public const string CommandName = "run";

    /// <summary>How long run waits for the daemon's answer before it runs CMD unmarked (or fails, with --strict).</summary>
    public static readonly TimeSpan MarkTimeout = TimeSpan.FromSeconds(3);

    private readonly Option<TaskClass> _class = CommonOptions.Class(TaskClass.Burst);
    private readonly Option<TimeSpan?> _window = CommonOptions.Window("How long CMD keeps the class, 1ms to 1h (default: as long as it runs).");
    private readonly Option<int?> _home = CommonOptions.HomeCpu();
    private readonly Option<TimeSpan?> _budget = CommonOptions.Budget();
    private readonly Option<bool> _strict = new("--strict") { Description = "Do not run CMD (exit 125) when it cannot be marked." };
    private readonly Option<bool> _quiet = new("--quiet", "-q") { Description = "No warning when CMD runs unmarked." };

    /// <summary>
    /// Set by the native launcher (Launcher/agentsched.c) when its own mark request got no answer
    /// within <see cref="MarkTimeout"/>: report that instead of waiting as long again.
    /// </summary>
    internal const string MarkTimedOutOptionName = "--mark-timed-out";

    private readonly Option<bool> _markTimedOut = new(MarkTimedOutOptionName) { Hidden = true };

    private RunCommand(CliConsole console, CliEnvironment environment)
        : base(CommandName, "Run a command already classified: agentsched run [options] -- CMD [ARGS...] marks its own process, then execs CMD in it. Exits with CMD's code; 125: agentsched failed, 126: CMD not executable, 127: CMD not found.")
    {
        Options.Add(_class);
        Options.Add(_window);
        Options.Add(_home);
        Options.Add(_budget);
        Options.Add(_strict);
        Options.Add(_quiet);
        Options.Add(_markTimedOut);
        SetAction(parsed => Run(console, environment, parsed));
    }

    /// <summary>The words after <c>--</c>; null when there was no <c>--</c>.</summary>
    public string[]? CommandLine { get; set; }

    public static RunCommand Create(CliConsole console, CliEnvironment environment) => new(console, environment);

    /// <summary>Why the words after <c>--</c> cannot be run, or null.</summary>
    public string? CommandLineError() => CommandLine switch
    {
        null => "put the command after '--', e.g. agentsched run --class burst -- make -j8",
        [] => "no command after '--'",
        [var first, ..] when first.Length == 0 => "the command name is empty",
        _ => null,
    };

    private int Run(CliConsole console, CliEnvironment environment, ParseResult parsed)
    {
        string[] command = CommandLine!;
        bool strict = parsed.GetValue(_strict), quiet = parsed.GetValue(_quiet);
        // Synchronously, on the main thread: exec must come from the thread the mark was applied to
        // last (see ProcessExec), and nothing else needs to run meanwhile.
        string? problem = null;
        // A hung daemon must not stall every tool call: after MarkTimeout, CMD runs unmarked.
        if (parsed.GetValue(_markTimedOut))
        {
            problem = new AgentSchedUnavailableException(CliApp.SocketPath(parsed), $"no answer within {MarkTimeout.TotalSeconds:0.###} s").Detail;
        }
        else
        {
            using AgentSchedClient client = CliApp.Connect(parsed, MarkTimeout);
            try
            {
                client.Mark(Environment.ProcessId, parsed.GetValue(_class), parsed.GetValue(_window), parsed.GetValue(_home), parsed.GetValue(_budget));
            }
            catch (AgentSchedUnavailableException e)
            {
                problem = e.Detail;
            }
            catch (AgentSchedException e)
            {
                problem = $"agentschedd refused the mark: {e.Code}: {e.Detail}";
            }
        }
        if (problem is not null)
        {
            if (strict)
            {
                console.Error.WriteLine($"agentsched: run: {problem}; not running {command[0]} (--strict)");
                return (int)RunReturnCode.Failed;
            }
            if (!quiet)
            {
                console.Error.WriteLine($"agentsched: {problem}; running {command[0]} unmarked");
            }
        }
        console.Out.Flush();
        console.Error.Flush();
        int errno = environment.Exec(command[0], command);
        var failure = new SyscallException($"execvp({command[0]})", errno);
        console.Error.WriteLine($"agentsched: run: cannot execute {command[0]}: {failure.ErrnoName}{(errno == 2 ? " (not found)" : "")}");
        return errno == 2 ? (int)RunReturnCode.NotFound : (int)RunReturnCode.CannotExecute;
    }
}
