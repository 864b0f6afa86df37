using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

public sealed class CompletionCommandTests
{
    [Theory]
    [InlineData("bash")]
    [InlineData("zsh")]
    public async Task TheScriptIsValidAndCoversEveryCommand(string shell)
    {
        CliResult r = CliHarness.Run("completion", shell);
        string file = Path.Combine(DaemonProcess.NewDirectory(), "completion");
        File.WriteAllText(file, r.Out);

        // bash -n parses without running; zsh's script is the bash one behind bashcompinit.
        ProcessResult syntax = await ProcessRunner.RunAsync("bash", ["-n", file], TimeSpan.FromSeconds(30));

        Assert.Equal(0, r.Code);
        Assert.Equal((0, ""), (syntax.ExitCode, syntax.Stderr));
        foreach (string command in new[] { "mark", "unmark", "run", "status", "top", "doctor", "completion" })
        {
            Assert.Contains($"\t{command}) COMPREPLY=", r.Out);
        }
        Assert.Contains("--class|-c) COMPREPLY=($(compgen -W \"burst batch normal\"", r.Out);
        Assert.Equal(shell == "zsh", r.Out.StartsWith("#compdef agentsched\n", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BashCompletesCommandsAndClasses()
    {
        string script = CliHarness.Run("completion", "bash").Out;
        string file = Path.Combine(DaemonProcess.NewDirectory(), "completion");
        File.WriteAllText(file, script + """
            complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _agentsched; echo "${COMPREPLY[*]}"; }
            complete_words agentsched st
            complete_words agentsched mark --class b
            complete_words agentsched run --cl
            """);

        ProcessResult r = await ProcessRunner.RunAsync("bash", [file], TimeSpan.FromSeconds(30));

        Assert.Equal("status\nburst batch\n--class\n", r.Stdout);
    }
}
