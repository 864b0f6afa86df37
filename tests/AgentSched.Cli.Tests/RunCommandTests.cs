using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

/// <summary>
/// agentsched run: in-process (exec replaced, to see what would be executed) and as the real
/// binary, where the command reads its own scheduling from /proc as its first act.
/// </summary>
public sealed class RunCommandTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    /// <summary>A shell whose first act is to print its own "nice policy" (fields 19 and 41 of /proc/PID/stat).</summary>
    private const string PrintOwnScheduling = "read -r s < /proc/$$/stat; set -- ${s##*) }; shift 16; n=$1; shift 22; echo \"$n $1\"";

    [Fact]
    public void ExecsTheWordsAfterTheDashesUnchanged()
    {
        (string File, IReadOnlyList<string> Argv)? executed = null;
        var env = CliHarness.Environment(exec: (file, argv) => { executed = (file, argv); return 2; });

        CliResult r = CliHarness.Run(env, "run", "--quiet", "--socket", "/nonexistent/s.sock", "--", "grep", "--class", "-v", "--", "x y");

        Assert.Equal("grep", executed!.Value.File);
        Assert.Equal(["grep", "--class", "-v", "--", "x y"], executed.Value.Argv);
        Assert.Equal((int)RunReturnCode.NotFound, r.Code);
        Assert.Equal("agentsched: run: cannot execute grep: ENOENT (not found)\n", r.Err);
    }

    [Fact]
    public void HelpNeedsNoCommand()
    {
        CliResult r = CliHarness.Run("run", "--help");

        Assert.Equal((0, ""), (r.Code, r.Err));
        Assert.Contains("agentsched run [options] -- CMD [ARGS...]", r.Out);
        Assert.Contains("--strict", r.Out);
    }

    [Theory]
    [InlineData("agentsched: run: put the command after '--', e.g. agentsched run --class burst -- make -j8", "run", "make", "-j8")]
    [InlineData("agentsched: run: no command after '--'", "run", "--class", "batch", "--")]
    [InlineData("agentsched: --class: unknown class 'fast' (use burst, batch or normal)", "run", "--class", "fast", "--", "true")]
    [InlineData("agentsched: --window: 'soon' is not a duration (write a number and a unit: 500us, 50ms, 2s, 1m)", "run", "--window", "soon", "--", "true")]
    public void UsageErrorsExit125WithoutRunningAnything(string expected, params string[] args)
    {
        CliResult r = CliHarness.Run(args);

        Assert.Equal((int)RunReturnCode.Failed, r.Code);
        Assert.Equal(expected, r.Err.Split('\n')[0]);
    }

    [Fact]
    public async Task TheCommandIsClassifiedBeforeItsFirstInstructionAndItsExitCodeIsKept()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

        ProcessResult batch = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", daemon.SocketPath, "run", "--class", "batch", "--", "sh", "-c", PrintOwnScheduling + "; exit 7"], s_timeout);
        ProcessResult burst = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", daemon.SocketPath, "run", "--", "sh", "-c", PrintOwnScheduling], s_timeout);

        Assert.Equal((7, "10 3\n", ""), (batch.ExitCode, batch.Stdout, batch.Stderr)); // SCHED_BATCH, nice 10
        Assert.Equal((0, "-10 0\n", ""), (burst.ExitCode, burst.Stdout, burst.Stderr)); // BURST in fallback: nice -10
    }

    [Fact]
    public async Task WithoutADaemonItWarnsOnceAndRunsTheCommandAnyway()
    {
        string socket = Path.Combine(Path.GetTempPath(), $"absent-{Guid.NewGuid():N}.sock");

        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", socket, "run", "--", "sh", "-c", "echo ran; exit 3"], s_timeout);
        ProcessResult quiet = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", socket, "run", "-q", "--", "true"], s_timeout);
        ProcessResult strict = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", socket, "run", "--strict", "--", "sh", "-c", "echo ran"], s_timeout);

        Assert.Equal((3, "ran\n"), (r.ExitCode, r.Stdout));
        Assert.Equal($"agentsched: agentschedd is not reachable at {socket}: no such socket (agentschedd is not running; start it with: systemctl start agentsched); running sh unmarked\n", r.Stderr);
        Assert.Equal((0, ""), (quiet.ExitCode, quiet.Stderr));
        Assert.Equal(((int)RunReturnCode.Failed, ""), (strict.ExitCode, strict.Stdout));
        Assert.EndsWith("; not running sh (--strict)\n", strict.Stderr);
    }

    [Fact]
    public async Task ARefusedMarkRunsTheCommandUnmarkedOrNotAtAllWithStrict()
    {
        // A daemon allowing no BURST tasks refuses every BURST mark with limit_exceeded.
        using var daemon = DaemonProcess.Start(null, "--Api:MaxBurstTasksPerUid=0");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

        ProcessResult lax = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", daemon.SocketPath, "run", "--", "sh", "-c", PrintOwnScheduling], s_timeout);
        ProcessResult strict = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", daemon.SocketPath, "run", "--strict", "--", "true"], s_timeout);

        Assert.Equal((0, "0 0\n"), (lax.ExitCode, lax.Stdout));
        Assert.StartsWith("agentsched: agentschedd refused the mark: limit_exceeded: ", lax.Stderr);
        Assert.EndsWith("; running sh unmarked\n", lax.Stderr);
        Assert.Equal((int)RunReturnCode.Failed, strict.ExitCode);
    }

    [Fact]
    public async Task CommandsThatCannotBeExecutedExit126Or127()
    {
        string dir = DaemonProcess.NewDirectory();
        string notExecutable = Path.Combine(dir, "script");
        File.WriteAllText(notExecutable, "#!/bin/sh\n");

        ProcessResult missing = await ProcessRunner.RunAsync(RepoPaths.Cli, ["run", "-q", "--socket", "/nonexistent/s", "--", "no-such-command-xyz"], s_timeout);
        ProcessResult denied = await ProcessRunner.RunAsync(RepoPaths.Cli, ["run", "-q", "--socket", "/nonexistent/s", "--", notExecutable], s_timeout);

        Assert.Equal(((int)RunReturnCode.NotFound, "agentsched: run: cannot execute no-such-command-xyz: ENOENT (not found)\n"), (missing.ExitCode, missing.Stderr));
        Assert.Equal(((int)RunReturnCode.CannotExecute, $"agentsched: run: cannot execute {notExecutable}: EACCES\n"), (denied.ExitCode, denied.Stderr));
    }

    [Fact]
    public async Task TheCommandGetsDefaultSignalDispositions()
    {
        // .NET ignores SIGPIPE; an ignored signal survives exec, so `yes | head` would see EPIPE instead of dying.
        string[] grep = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"];
        ProcessResult plain = await ProcessRunner.RunAsync(grep[0], grep[1..], s_timeout);
        ProcessResult wrapped = await ProcessRunner.RunAsync(RepoPaths.Cli, ["run", "-q", "--socket", "/nonexistent/s", "--", .. grep], s_timeout);

        // What the command would have got from its parent, but with SIGPIPE (signal 13, bit 12) at its default.
        Assert.Equal(0, wrapped.ExitCode);
        Assert.Equal(Masks(plain.Stdout) with { Ignored = Masks(plain.Stdout).Ignored & ~(1UL << 12) }, Masks(wrapped.Stdout));
    }

    private static (ulong Blocked, ulong Ignored) Masks(string status)
    {
        ulong Field(string name) => Convert.ToUInt64(status.Split('\n').Single(l => l.StartsWith(name + ":\t", StringComparison.Ordinal))[(name.Length + 2)..], 16);
        return (Field("SigBlk"), Field("SigIgn"));
    }
}
