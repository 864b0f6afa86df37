namespace AgentSched.Cli;

/// <summary>Where commands write: the process's streams in production, string writers in tests.</summary>
public sealed class CliConsole(TextWriter output, TextWriter error)
{
    public static CliConsole System { get; } = new(Console.Out, Console.Error);

    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;
}
