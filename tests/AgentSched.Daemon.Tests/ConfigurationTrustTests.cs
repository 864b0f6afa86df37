using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>
/// The reliability issue's finding 6 (configuration), against the real agentschedd: <c>--help</c>
/// and <c>--version</c>; unknown keys, stray arguments, wrong-type values and broken JSON refused
/// with exit 2 and one line naming the key or file; documented enums validated; and a reload with
/// any invalid value keeps the running configuration and says so once.
/// A start that gets past the configuration runs with <c>Scheduler:Mode=sched_ext</c> on this host
/// (no sched_ext), so it exits 3 at once instead of serving: that exit is "the configuration was accepted".
/// </summary>
public sealed partial class ConfigurationTrustTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task HelpPrintsUsageWithEveryKeyAndExits0()
    {
        ProcessResult r = await RunAsync(["--help"]);

        Assert.Equal((0, ""), (r.ExitCode, r.Stderr));
        Assert.StartsWith("usage: agentschedd [--Section:Key=value]...\n", r.Stdout);
        Assert.Contains("docs/operations.md", r.Stdout);
        foreach (string key in DocumentedKeys("README.md", "| option |"))
        {
            Assert.Matches($@"(?m)^  {Regex.Escape(key)}\b", r.Stdout);
        }
        // -h too, and wherever it is on the line.
        ProcessResult h = await RunAsync(["-h", "--Api:MaxMarks=abc"]);
        Assert.Equal((0, r.Stdout), (h.ExitCode, h.Stdout));
    }

    [Fact]
    public async Task VersionPrintsTheVersionAndExits0()
    {
        string version = typeof(DaemonExitCode).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

        ProcessResult r = await RunAsync(["--version"]);

        Assert.Equal((0, $"agentschedd {version}\n", ""), (r.ExitCode, r.Stdout, r.Stderr));
    }

    [Theory]
    [InlineData("--Api:MaxMarks=abc", "invalid configuration: Api:MaxMarks must be an integer (got 'abc' on the command line)")]
    [InlineData("--Api:MaxMarks=99999999999", "invalid configuration: Api:MaxMarks must be an integer (got '99999999999' on the command line)")]
    [InlineData("--Scheduler:Partial=yes", "invalid configuration: Scheduler:Partial must be true or false (got 'yes' on the command line)")]
    [InlineData("--api:maxmark=5", "invalid configuration: unknown key api:maxmark on the command line")]
    [InlineData("--Sheduler:SliceUs=2000", "invalid configuration: unknown key Sheduler:SliceUs on the command line")]
    [InlineData("--Api=5", "invalid configuration: Api is a section, not a key (on the command line)")]
    [InlineData("stray", "unexpected argument 'stray': options are --Section:Key=value (agentschedd --help lists the keys)")]
    [InlineData("-x=1", "unexpected argument '-x=1': options are --Section:Key=value (agentschedd --help lists the keys)")]
    [InlineData("/Api:MaxMarks=5", "unexpected argument '/Api:MaxMarks=5': options are --Section:Key=value (agentschedd --help lists the keys)")]
    public async Task ABadCommandLineIsOneLineAndExit2(string arg, string expected)
    {
        ProcessResult r = await RunAsync([arg]);

        AssertRefused(r, $"agentschedd: {expected}");
    }

    [Theory]
    [InlineData("Logging:Level", "Loud", "Logging:Level must be Debug, Information, Warning or Error (got 'Loud')")]
    [InlineData("Logging:Format", "xml", "Logging:Format must be text or json (got 'xml')")]
    [InlineData("Api:SocketMode", "7777", "Api:SocketMode must be octal permission bits from 000 to 0777, such as 0660 (got '7777')")]
    [InlineData("Api:SocketMode", "1660", "Api:SocketMode must be octal permission bits from 000 to 0777, such as 0660 (got '1660')")]
    [InlineData("Api:SocketMode", "rw", "Api:SocketMode must be octal permission bits from 000 to 0777, such as 0660 (got 'rw')")]
    [InlineData("Scheduler:Mode", "eevdf", "Scheduler:Mode must be auto, sched_ext or fallback (got 'eevdf')")]
    public async Task EveryDocumentedEnumIsValidated(string key, string value, string expected)
    {
        ProcessResult r = await RunAsync([$"--{key}={value}"]);

        AssertRefused(r, $"agentschedd: invalid configuration: {expected}");
    }

    [Theory]
    [InlineData("--Logging:Level=debug")]
    [InlineData("--Logging:Level=Warning")]
    [InlineData("--Logging:Format=JSON")]
    [InlineData("--Api:SocketMode=640")]
    [InlineData("--Api:SocketMode=0600")]
    [InlineData("--Scheduler:Partial=True")]
    [InlineData("--Scheduler:SliceUs 2000")]
    [InlineData("--Scheduler:SliceUs=5 --scheduler:sliceus=2000")] // a key given twice: the last one wins
    public async Task ValidValuesAreStillAccepted(string args)
    {
        ProcessResult r = await RunAsync(args.Split(' '));

        AssertAccepted(r);
    }

    [Fact]
    public async Task AnUnknownKeyDoesNotHideTheOtherProblems()
    {
        ProcessResult r = await RunAsync(["--Api:Foo=1", "--Scheduler:SliceUs=5", "--Logging:Format=xml"]);

        Assert.Equal((int)DaemonExitCode.InvalidConfiguration, r.ExitCode);
        Assert.Equal(
            [
                "agentschedd: invalid configuration: unknown key Api:Foo on the command line",
                "agentschedd: invalid configuration: Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)",
                "agentschedd: invalid configuration: Logging:Format must be text or json (got 'xml')",
            ],
            Lines(r.Stderr));
    }

    /// <summary>The keys are the options classes' properties; both documentation tables list exactly those.</summary>
    [Fact]
    public void EveryKeyIsDocumentedAndEveryDocumentedKeyExists()
    {
        string[] keys = [.. Configuration.ConfigurationSchema.Keys.Select(k => k.Name).Order(StringComparer.Ordinal)];

        Assert.Contains("Logging:Level", keys);
        Assert.Contains("Scheduler:SliceUs", keys);
        Assert.Equal(keys, DocumentedKeys("README.md", "| option |").Order(StringComparer.Ordinal));
        Assert.Equal(keys, DocumentedKeys("docs/operations.md", "| key |").Order(StringComparer.Ordinal));
    }

    /// <summary>Both documentation tables give each key the default the options classes have.</summary>
    [Theory]
    [InlineData("README.md", "| option |")]
    [InlineData("docs/operations.md", "| key |")]
    public void EveryDocumentedDefaultIsTheOptionsDefault(string file, string header)
    {
        Dictionary<string, string> defaults = Configuration.ConfigurationSchema.Keys.ToDictionary(k => k.Name, k => k.DefaultText);

        Assert.All(DocumentedDefaults(file, header), d => Assert.True(defaults[d.Key] == d.Default,
            $"{file} gives {d.Key} the default '{d.Default}'; the daemon's is '{defaults[d.Key]}'"));
    }

    [Fact]
    public async Task AWrongTypeInTheFileNamesTheKeyAndTheFile()
    {
        string dir = DaemonProcess.NewDirectory();
        string config = Path.Combine(dir, "agentsched.json");
        File.WriteAllText(config, """{"Api":{"MaxMarks":"abc"}}""");

        ProcessResult r = await RunAsync([], new() { ["AGENTSCHED_CONFIG"] = config });

        AssertRefused(r, $"agentschedd: invalid configuration: Api:MaxMarks must be an integer (got 'abc' in {config})");
    }

    [Fact]
    public async Task AnObjectWhereAValueBelongsIsRefused()
    {
        string dir = DaemonProcess.NewDirectory();
        string config = Path.Combine(dir, "agentsched.json");
        File.WriteAllText(config, """{"Api":{"SocketMode":[6,6,0]}}""");

        ProcessResult r = await RunAsync([], new() { ["AGENTSCHED_CONFIG"] = config });

        AssertRefused(r, $"agentschedd: invalid configuration: Api:SocketMode must be a single value, not an object or array (in {config})");
    }

    [Theory]
    [InlineData("""{"Api":{"MaxMarks":""")]
    [InlineData("""{"Api":{"MaxMarks":5},}x""")]
    [InlineData("""[1,2]""")]
    [InlineData("""{"Api":{"MaxMarks":5,"maxmarks":6}}""")]
    public async Task ABrokenJsonFileIsOneLineNamingTheFile(string text)
    {
        string dir = DaemonProcess.NewDirectory();
        string config = Path.Combine(dir, "agentsched.json");
        File.WriteAllText(config, text);

        ProcessResult r = await RunAsync([], new() { ["AGENTSCHED_CONFIG"] = config });

        Assert.Equal((int)DaemonExitCode.InvalidConfiguration, r.ExitCode);
        string line = Assert.Single(Lines(r.Stderr));
        Assert.StartsWith($"agentschedd: invalid configuration: {config} is not valid JSON: ", line);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task AnUnknownKeyInTheFileIsNamedWithTheFile()
    {
        string dir = DaemonProcess.NewDirectory();
        string config = Path.Combine(dir, "agentsched.json");
        File.WriteAllText(config, """{"Api":{"MaxMarks":5},"Scheduler":{"SliceUS":2000,"Slice":1}}""");

        ProcessResult r = await RunAsync([], new() { ["AGENTSCHED_CONFIG"] = config });

        Assert.Equal((int)DaemonExitCode.InvalidConfiguration, r.ExitCode);
        // SliceUS is SliceUs: keys are not case-sensitive.
        Assert.Equal([$"agentschedd: invalid configuration: unknown key Scheduler:Slice in {config}"], Lines(r.Stderr));
    }

    [Fact]
    public async Task EnvironmentVariablesWithASectionAreCheckedAndOthersAreNotConfiguration()
    {
        ProcessResult r = await RunAsync([], new() { ["AGENTSCHED_Api__MaxMark"] = "5" });
        AssertRefused(r, "agentschedd: invalid configuration: unknown key Api:MaxMark in $AGENTSCHED_Api__MaxMark");

        r = await RunAsync([], new() { ["AGENTSCHED_Api__MaxMarks"] = "many" });
        AssertRefused(r, "agentschedd: invalid configuration: Api:MaxMarks must be an integer (got 'many' in $AGENTSCHED_Api__MaxMarks)");

        // The CLI's $AGENTSCHED_SOCKET and the scripts' variables are not daemon keys and do not stop it.
        r = await RunAsync([], new() { ["AGENTSCHED_SOCKET"] = "/tmp/elsewhere.sock", ["AGENTSCHED_TEST_KERNELS"] = "7.3.4+deb13" });
        AssertAccepted(r);

        // An empty $AGENTSCHED_CONFIG is as if unset (it used to be an unhandled ArgumentException).
        Assert.False(File.Exists("/etc/agentsched/agentsched.json"), "this test expects no /etc/agentsched/agentsched.json");
        r = await RunAsync([], new() { ["AGENTSCHED_CONFIG"] = "" });
        AssertAccepted(r);
    }

    /// <summary>
    /// A SIGHUP with any invalid value (out of range, in the Scheduler section, of the wrong type, an
    /// unknown key, a broken file) leaves everything as it was: the log says so once, with the reason,
    /// and no "configuration reloaded" follows. The Api limit of the valid start stays in force.
    /// </summary>
    [Theory]
    [InlineData("""{"Api":{"MaxBurstTasksPerUid":2,"MaxMarks":0}}""", "Api:MaxMarks must be between 1 and 1000000 (got 0)")]
    [InlineData("""{"Api":{"MaxBurstTasksPerUid":2},"Scheduler":{"SliceUs":5}}""", "Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)")]
    [InlineData("""{"Api":{"MaxBurstTasksPerUid":2},"Logging":{"Level":"Loud"}}""", "Logging:Level must be Debug, Information, Warning or Error (got 'Loud')")]
    [InlineData("""{"Api":{"MaxBurstTasksPerUid":2,"MaxMarks":"abc"}}""", "Api:MaxMarks must be an integer (got 'abc' in {config})")]
    [InlineData("""{"Api":{"MaxBurstTasksPerUid":2,"MaxMark":5}}""", "unknown key Api:MaxMark in {config}")]
    [InlineData("""{"Api":{"MaxBurstTasksPerUid":2,""", "{config} is not valid JSON: ")]
    public async Task AnInvalidReloadKeepsTheRunningConfigurationAndSaysSoOnce(string bad, string reason)
    {
        using ProcStat.Sleeper a = ProcStat.Sleep();
        using ProcStat.Sleeper b = ProcStat.Sleep();
        string dir = DaemonProcess.NewDirectory();
        string config = Path.Combine(dir, "agentsched.json");
        const string good = """{"Api":{"MaxBurstTasksPerUid":1}}""";
        File.WriteAllText(config, good);
        using DaemonProcess d = DaemonProcess.Start(dir, ["--Scheduler:Mode=fallback"], new Dictionary<string, string> { ["AGENTSCHED_CONFIG"] = config });
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(60));
        using ApiConnection c = await ApiConnection.OpenAsync(d.SocketPath);
        Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{a.Pid}},"class":"burst"}""")).GetProperty("ok").GetBoolean());

        File.WriteAllText(config, bad);
        d.Signal(Signals.SIGHUP);
        await d.WaitUntilAsync(() => d.Output.Contains("configuration reload rejected"), TimeSpan.FromSeconds(10), "the rejected reload");

        // Still the limit of 1 the daemon started with, although the file now says 2.
        JsonElement refused = await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{b.Pid}},"class":"burst"}""");
        Assert.Equal("limit_exceeded", refused.GetProperty("error").GetProperty("code").GetString());

        // A valid reload after it is reported as one; the rejected one was not.
        File.WriteAllText(config, good);
        d.Signal(Signals.SIGHUP);
        await d.WaitUntilAsync(() => SecondReloadDone(d.Output), TimeSpan.FromSeconds(10), "the second reload");
        await Task.Delay(300, TestContext.Current.CancellationToken); // anything the rejected reload would still log

        string rejected = Assert.Single(Lines(d.Output), l => l.Contains("configuration reload rejected"));
        Assert.Contains(reason.Replace("{config}", config), rejected);
        Assert.Single(ReloadedLines(d.Output));
        Assert.DoesNotContain("   at ", d.Output); // no stack trace
        Assert.DoesNotContain("reloading the configuration failed", d.Output);
        Assert.False(d.HasExited);
    }

    private static bool SecondReloadDone(string output)
    {
        int first = output.IndexOf("SIGHUP: reloading", StringComparison.Ordinal);
        int second = first < 0 ? -1 : output.IndexOf("SIGHUP: reloading", first + 1, StringComparison.Ordinal);
        return second >= 0 && output.IndexOf(" configuration reloaded\n", second, StringComparison.Ordinal) >= 0;
    }

    private static string[] ReloadedLines(string output) => [.. Lines(output).Where(l => l.EndsWith(" configuration reloaded", StringComparison.Ordinal))];

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static void AssertRefused(ProcessResult r, string line)
    {
        Assert.Equal((int)DaemonExitCode.InvalidConfiguration, r.ExitCode);
        Assert.Equal([line], Lines(r.Stderr));
        Assert.Equal("", r.Stdout);
    }

    private static void AssertAccepted(ProcessResult r)
    {
        Assert.False(Directory.Exists("/sys/kernel/sched_ext"), "this test expects a host kernel without sched_ext");
        Assert.True(r.ExitCode == (int)DaemonExitCode.NoSchedExt, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Contains("has no sched_ext", r.Stderr);
    }

    /// <summary>
    /// Runs agentschedd with its socket, state and pins in a new directory, Scheduler:Mode=sched_ext
    /// (exit 3 here once the configuration is accepted), no configuration file unless
    /// <paramref name="environment"/> names one, and <paramref name="args"/> last.
    /// </summary>
    private static async Task<ProcessResult> RunAsync(string[] args, Dictionary<string, string>? environment = null)
    {
        string dir = DaemonProcess.NewDirectory();
        string[] all =
        [
            $"--Api:SocketPath={Path.Combine(dir, "agentsched.sock")}",
            "--Api:SocketGroup=",
            $"--State:Directory={Path.Combine(dir, "state")}",
            $"--Scheduler:PinPath=/sys/fs/bpf/{Path.GetFileName(dir)}",
            "--Scheduler:Mode=sched_ext",
            .. args,
        ];
        System.Diagnostics.ProcessStartInfo psi = ProcessRunner.StartInfo(RepoPaths.Daemon, all);
        psi.Environment["AGENTSCHED_CONFIG"] = Path.Combine(dir, "absent.json");
        foreach ((string name, string value) in environment ?? [])
        {
            psi.Environment[name] = value;
        }
        return await ProcessRunner.RunAsync(psi, s_timeout);
    }

    /// <summary>
    /// The keys in a markdown file's configuration table (the first table whose header starts with
    /// <paramref name="header"/>): every backquoted Section:Key in a row's first cell, and a bare
    /// `Key` after one (`Api:MaxConnections`, `MaxConnectionsPerUid`) in the same section.
    /// </summary>
    internal static string[] DocumentedKeys(string file, string header) => [.. DocumentedDefaults(file, header).Select(d => d.Key)];

    /// <summary>
    /// Each key of a documentation table with the default its row gives. A row may name several
    /// keys (<c>`Api:MaxConnections`, `MaxConnectionsPerUid`</c>: the section carries over) with
    /// their defaults in the same order, separated by ", " or " / "; "empty …" and "(…)" stand for
    /// the empty string.
    /// </summary>
    internal static (string Key, string Default)[] DocumentedDefaults(string file, string header)
    {
        string[] lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, file));
        int start = Array.FindIndex(lines, l => l.StartsWith(header, StringComparison.Ordinal));
        Assert.True(start >= 0, $"{file} has no table starting with '{header}'");
        var rows = new List<(string, string)>();
        foreach (string row in lines.Skip(start + 2).TakeWhile(l => l.StartsWith('|')))
        {
            string[] cells = row.Split('|', StringSplitOptions.TrimEntries);
            var keys = new List<string>();
            string section = "";
            foreach (Match m in BackquotedRegex().Matches(cells[1]))
            {
                string token = m.Groups[1].Value;
                if (token.Contains(':'))
                {
                    section = token[..token.IndexOf(':')];
                    keys.Add(token);
                }
                else
                {
                    keys.Add($"{section}:{token}");
                }
            }
            string[] defaults = cells[2].Split([", ", " / "], StringSplitOptions.TrimEntries);
            Assert.True(defaults.Length == keys.Count, $"{file}: the row of {string.Join(", ", keys)} gives {defaults.Length} defaults: {row}");
            rows.AddRange(keys.Zip(defaults, (k, d) => (k, d.StartsWith("empty", StringComparison.Ordinal) || d.StartsWith('(') ? "" : d.Trim('`'))));
        }
        return [.. rows];
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex BackquotedRegex();
}
