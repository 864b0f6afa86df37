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
        foreach (string command in new[] { "mark", "unmark", "run", "status", "top", "trace", "doctor", "completion" })
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
            complete_words agentsched tr
            complete_words agentsched trace --st
            complete_words agentsched trace --pid 1
            """);

        ProcessResult r = await ProcessRunner.RunAsync("bash", [file], TimeSpan.FromSeconds(30));

        string[] lines = r.Stdout.Split('\n');
        Assert.Equal(["status", "burst batch", "--class", "trace", "--steps"], lines[..5]);
        Assert.Contains("1", lines[5].Split(' ')); // pids starting with 1: init's at least
        Assert.DoesNotContain("--json", lines[5]);
    }

    [Fact]
    public async Task ZshCompletesOnTheFirstTabWhenAutoloaded()
    {
        // A real interactive zsh on a pseudo-terminal (zpty), with the script where zsh's package
        // manager would put it: a file _agentsched in $fpath, loaded by compinit.
        string dir = DaemonProcess.NewDirectory();
        File.WriteAllText(Path.Combine(dir, "_agentsched"), CliHarness.Run("completion", "zsh").Out);
        string driver = Path.Combine(dir, "drive.zsh");
        File.WriteAllText(driver, $$"""
            zmodload zsh/zpty
            zpty z 'zsh -f -i'
            zpty -w z 'fpath=({{dir}} $fpath); autoload -U compinit; compinit -u -D'
            sleep 1
            zpty -w -n z $'agentsched st\t'
            sleep 2
            zpty -w -n z $'\C-u'
            zpty -w -n z $'agentsched mark --class b\t'
            sleep 2
            out=""
            while zpty -r -t z line; do out+="$line"; done
            print -r -- "$out" | tr -d '\r' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'
            zpty -d z
            """);

        ProcessResult r = await ProcessRunner.RunAsync("zsh", ["-f", driver], TimeSpan.FromSeconds(60));

        Assert.Contains("agentsched status", r.Stdout); // "st" + Tab, the first completion in this shell
        Assert.Contains("batch  burst", r.Stdout);     // the classes starting with b, listed
    }
}
