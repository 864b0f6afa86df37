using AgentSched.Interop.Kernel;

namespace AgentSched.Cli.Tests;

/// <summary>What a person running agentsched would have seen.</summary>
internal sealed record CliResult(int Code, string Out, string Err);

/// <summary>Runs the CLI in-process against string writers; the environment is the real host unless replaced.</summary>
internal static class CliHarness
{
    public static readonly SchedExtStatus NoSchedExt = new(false, "unsupported", null, null, null, "6.18.0-test");

    public static CliResult Run(CliEnvironment environment, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, new CliConsole(stdout, stderr), environment);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The host environment with a fixed kernel status and an exec that must not be reached.</summary>
    public static CliEnvironment Environment(SchedExtStatus? kernel = null, Func<string, IReadOnlyList<string>, int>? exec = null) => new()
    {
        ReadKernel = () => kernel ?? NoSchedExt,
        Exec = exec ?? ((file, _) => throw new InvalidOperationException($"exec {file} in a test process")),
        Delay = (t, token) => Task.Delay(TimeSpan.FromMilliseconds(Math.Min(t.TotalMilliseconds, 300)), token),
        OutputIsTerminal = false,
    };

    public static CliResult Run(params string[] args) => Run(Environment(), args);
}
