using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using AgentSched.Cli.Commands;
using AgentSched.Client;
using AgentSched.Protocol;
using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

/// <summary>
/// The native front door (src/AgentSched.Cli/Launcher/agentsched.c): it runs `agentsched run`'s
/// common case without the .NET CLI, and what it sends and assumes is the protocol's and
/// RunCommand's own. Everything it leaves to the .NET CLI is covered where the binary is run
/// (RunCommandTests and the other command tests run artifacts/bin/agentsched, this launcher).
/// </summary>
public sealed class LauncherTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private static string LauncherSource => Path.Combine(RepoPaths.Root, "src", "AgentSched.Cli", "Launcher", "agentsched.c");

    /// <summary>The built launcher, where artifacts/bin/agentsched points.</summary>
    private static string PublishedLauncher => new FileInfo(RepoPaths.Cli).ResolveLinkTarget(returnFinalTarget: true)!.FullName;

    /// <summary>A copy of the launcher alone in a directory: a run it hands to the .NET CLI fails there.</summary>
    private static string LoneLauncher()
    {
        string copy = Path.Combine(DaemonProcess.NewDirectory(), "agentsched");
        File.Copy(PublishedLauncher, copy);
        File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        return copy;
    }

    private static string Ok()
    {
        var line = new ArrayBufferWriter<byte>();
        ResponseWriter.WriteOk(line, null, null);
        return Encoding.UTF8.GetString(line.WrittenSpan).TrimEnd('\n');
    }

    private static string MarkLine(int pid, TaskClass taskClass, int? windowMs = null, int? homeCpu = null, int? budgetUs = null)
    {
        var line = new ArrayBufferWriter<byte>();
        RequestWriter.Write(line, new ApiRequest(ApiOp.Mark) { Pid = pid, Class = taskClass, WindowMs = windowMs, HomeCpu = homeCpu, BudgetUs = budgetUs });
        return Encoding.UTF8.GetString(line.WrittenSpan).TrimEnd('\n');
    }

    public static TheoryData<string[], TaskClass, int?, int?, int?> RunForms => new()
    {
        { [], TaskClass.Burst, null, null, null },
        { ["--class", "batch", "--window", "250ms", "--home-cpu", "1", "--budget", "2ms"], TaskClass.Batch, 250, 1, 2000 },
        { ["-c", "normal", "-w", "2s", "--strict", "-q"], TaskClass.Normal, 2000, null, null },
        { ["--window=1m", "--budget=1s", "--quiet", "--home-cpu=0"], TaskClass.Burst, 60_000, 0, 1_000_000 },
        { ["--window", "1500us", "--budget", "150us"], TaskClass.Burst, 2, null, 150 }, // rounded up, as the .NET client rounds
        { ["--window", "1h", "--class=burst"], TaskClass.Burst, 3_600_000, null, null },
    };

    [Theory]
    [MemberData(nameof(RunForms))]
    public async Task ItMarksItselfWithTheClientsRequestLineAndExecsWithoutTheDotNetCli(string[] options, TaskClass taskClass, int? windowMs, int? homeCpu, int? budgetUs)
    {
        using var daemon = new FakeDaemon(Ok(), TimeSpan.Zero);
        string launcher = LoneLauncher();

        ProcessResult r = await ProcessRunner.RunAsync(launcher, ["--socket", daemon.SocketPath, "run", .. options, "--", "sh", "-c", "echo $$; exit 5"], s_timeout);

        // sh printed its own pid: the launcher's, since sh was exec'd in its process.
        Assert.Equal((5, ""), (r.ExitCode, r.Stderr));
        int pid = int.Parse(r.Stdout.Trim());
        Assert.Equal([MarkLine(pid, taskClass, windowMs, homeCpu, budgetUs)], daemon.RequestLines);
    }

    [Fact]
    public async Task ItTakesTheSocketFromTheEnvironmentLikeTheCli()
    {
        using var daemon = new FakeDaemon(Ok(), TimeSpan.Zero);
        ProcessStartInfo psi = ProcessRunner.StartInfo(LoneLauncher(), "run", "--", "true");
        psi.Environment[AgentSchedClientOptions.SocketEnvironmentVariable] = daemon.SocketPath;

        ProcessResult r = await ProcessRunner.RunAsync(psi, s_timeout);

        Assert.Equal((0, ""), (r.ExitCode, r.Stderr));
        Assert.Single(daemon.RequestLines);
    }

    [Theory]
    [InlineData("refused")] // an error response: the .NET CLI asks again and reports the refusal
    [InlineData("absent")] // no daemon: the .NET CLI says why
    [InlineData("form")] // a form the launcher does not parse (a fraction): the .NET CLI parses it
    public async Task WhatItDoesNotHandleGoesToTheDotNetCliWithTheSameArguments(string what)
    {
        using var daemon = new FakeDaemon("""{"v":1,"ok":false,"error":{"code":"limit_exceeded","message":"too many"}}""", TimeSpan.Zero);
        string socket = what == "absent" ? Path.Combine(DaemonProcess.NewDirectory(), "none.sock") : daemon.SocketPath;
        string window = what == "form" ? "1.5ms" : "2ms";

        ProcessResult lone = await ProcessRunner.RunAsync(LoneLauncher(), ["--socket", socket, "run", "--window", window, "--", "sh", "-c", "echo ran"], s_timeout);
        ProcessResult whole = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", socket, "run", "--window", window, "--", "sh", "-c", "echo ran"], s_timeout);

        // Alone, the launcher has nothing to hand the run to: it says so and runs nothing.
        Assert.Equal(((int)RunReturnCode.Failed, ""), (lone.ExitCode, lone.Stdout));
        Assert.Matches("^agentsched: cannot execute /.+/agentsched-cli: No such file or directory\n$", lone.Stderr);
        // Beside the .NET CLI, the run goes on there: the tool runs, with the CLI's own warning.
        Assert.Equal((0, "ran\n"), (whole.ExitCode, whole.Stdout));
        Assert.EndsWith("; running sh unmarked\n", whole.Stderr);
        Assert.StartsWith(what == "refused" ? "agentsched: agentschedd refused the mark: limit_exceeded: too many" : "agentsched: ", whole.Stderr);
        // The launcher asked once (not for the fraction) and the CLI once more.
        Assert.Equal(what switch { "refused" => 3, "form" => 1, _ => 0 }, daemon.Requests);
    }

    [Fact]
    public async Task AHungDaemonCostsOneTimeoutNotTwo()
    {
        using var daemon = new FakeDaemon("""{"v":1,"ok":true}""", TimeSpan.FromMinutes(5));
        var clock = Stopwatch.StartNew();

        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Cli, ["--socket", daemon.SocketPath, "run", "--", "sh", "-c", "echo ran"], s_timeout);

        Assert.Equal((0, "ran\n"), (r.ExitCode, r.Stdout));
        Assert.Equal($"agentsched: agentschedd is not reachable at {daemon.SocketPath}: no answer within {RunCommand.MarkTimeout.TotalSeconds:0.###} s; running sh unmarked\n", r.Stderr);
        Assert.Equal(1, daemon.Requests);
        Assert.InRange(clock.Elapsed, RunCommand.MarkTimeout, RunCommand.MarkTimeout * 1.8);
    }

    [Fact]
    public void ItsConstantsAreTheProtocolsAndTheClisOwn()
    {
        string source = File.ReadAllText(LauncherSource);
        string Define(string name) => Regex.Match(source, $@"^#define {name} (.+)$", RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value.Trim().Trim('"')
            : throw new Xunit.Sdk.XunitException($"#define {name} is missing from {LauncherSource}");

        Assert.Equal(ApiProtocol.DefaultSocketPath, Define("DEFAULT_SOCKET_PATH"));
        Assert.Equal(AgentSchedClientOptions.SocketEnvironmentVariable, Define("SOCKET_ENV"));
        Assert.Equal(ApiProtocol.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), Define("PROTOCOL_VERSION"));
        Assert.Equal(((int)RunCommand.MarkTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), Define("MARK_TIMEOUT_MS"));
        Assert.Equal(RunCommand.MarkTimedOutOptionName, Define("TIMED_OUT_OPTION"));
        // The .NET CLI is where the launcher looks for it.
        string publish = Path.GetDirectoryName(PublishedLauncher)!;
        Assert.True(File.Exists(Path.Combine(publish, Define("CLI_NAME"))), $"{Define("CLI_NAME")} is not beside the launcher in {publish}");
        Assert.Equal(Define("CLI_NAME"), typeof(CliApp).Assembly.GetName().Name);
    }
}
