using System.Runtime.Versioning;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>
/// scripts/install staged into a temporary directory (--destdir), as a package build would run it,
/// and the unit it installs checked by systemd's own parser.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PackagingTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private static readonly string s_install = Path.Combine(RepoPaths.Root, "scripts", "install");

    private readonly string _dest = Directory.CreateTempSubdirectory("agentsched-destdir-").FullName;

    public void Dispose() => Directory.Delete(_dest, recursive: true);

    private string Staged(string path) => Path.Combine(_dest, path.TrimStart('/'));

    private static async Task<ProcessResult> Install(params string[] args)
    {
        ProcessResult r = await ProcessRunner.RunAsync(s_install, args, s_timeout);
        Assert.True(r.ExitCode == 0, $"scripts/install {string.Join(' ', args)} exited {r.ExitCode}:\n{r.Stderr}{r.Stdout}");
        return r;
    }

    /// <summary>Every file and symlink under the staged tree with its mode and content (or link target).</summary>
    private string[] Snapshot() =>
        [.. Directory.EnumerateFileSystemEntries(_dest, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(p =>
            {
                var info = new FileInfo(p);
                string what = info.LinkTarget is { } target ? "-> " + target
                    : Directory.Exists(p) ? "dir"
                    : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p)));
                return $"{p[_dest.Length..]} {(info.LinkTarget is null ? info.UnixFileMode : "")} {what}";
            })];

    [Fact]
    public async Task StagesTheBinariesUnitAndConfigurationIntoDestdir()
    {
        await Install("--destdir", _dest);

        foreach ((string link, string binary) in new[]
        {
            ("/usr/sbin/agentschedd", "/usr/lib/agentsched/agentschedd/agentschedd"),
            ("/usr/bin/agentsched", "/usr/lib/agentsched/agentsched/agentsched"),
        })
        {
            Assert.True(File.GetUnixFileMode(Staged(binary)).HasFlag(UnixFileMode.UserExecute | UnixFileMode.OtherExecute), $"{binary} is not executable");
            var info = new FileInfo(Staged(link));
            Assert.NotNull(info.LinkTarget);
            Assert.False(Path.IsPathRooted(info.LinkTarget), $"{link} -> {info.LinkTarget} would not resolve inside a package root");
            FileSystemInfo? final = info.ResolveLinkTarget(returnFinalTarget: true);
            Assert.NotNull(final);
            Assert.Equal(Staged(binary), final.FullName);
            Assert.True(final.Exists);
        }
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(RepoPaths.Root, "artifacts", "publish", "AgentSched.Daemon", "agentschedd")),
            File.ReadAllBytes(Staged("/usr/lib/agentsched/agentschedd/agentschedd")));
        Assert.True(File.Exists(Staged("/usr/lib/agentsched/agentschedd/appsettings.json")));
        Assert.Empty(Directory.EnumerateFiles(Staged("/usr/lib/agentsched"), "*.dbg", SearchOption.AllDirectories));

        foreach ((string staged, string source) in new[]
        {
            ("/usr/lib/systemd/system/agentsched.service", "agentsched.service"),
            ("/usr/lib/tmpfiles.d/agentsched.conf", "agentsched.tmpfiles"),
            ("/usr/lib/sysusers.d/agentsched.conf", "agentsched.sysusers"),
            ("/etc/agentsched/agentsched.json", "agentsched.json"),
        })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Root, "packaging", source)), File.ReadAllText(Staged(staged)));
        }
        string bash = File.ReadAllText(Staged("/usr/share/bash-completion/completions/agentsched"));
        Assert.StartsWith("# agentsched completion", bash);
        Assert.Contains("complete -F _agentsched agentsched", bash);
        Assert.StartsWith("#compdef agentsched\n", File.ReadAllText(Staged("/usr/share/zsh/vendor-completions/_agentsched")));
    }

    [Fact]
    public async Task ASecondRunChangesNothingAndNeverOverwritesTheConfiguration()
    {
        await Install("--destdir", _dest);
        string config = Staged("/etc/agentsched/agentsched.json");
        File.WriteAllText(config, """{ "Scheduler": { "SliceUs": 2000 } }""");
        string[] before = Snapshot();

        ProcessResult second = await Install("--destdir", _dest);

        Assert.Equal(before, Snapshot());
        Assert.Equal("""{ "Scheduler": { "SliceUs": 2000 } }""", File.ReadAllText(config));
        Assert.Contains("nothing to change", second.Stderr);
        Assert.Contains("kept the existing /etc/agentsched/agentsched.json", second.Stderr);
    }

    [Fact]
    public async Task UninstallRemovesWhatItInstalledAndPurgeAlsoTheConfiguration()
    {
        await Install("--destdir", _dest);

        await Install("--uninstall", "--destdir", _dest);

        string[] left = [.. Directory.EnumerateFileSystemEntries(_dest, "*", SearchOption.AllDirectories)
            .Where(File.Exists).Select(p => p[_dest.Length..])];
        Assert.Equal(["/etc/agentsched/agentsched.json"], left);
        Assert.False(Directory.Exists(Staged("/usr/lib/agentsched")));
        Assert.False(new FileInfo(Staged("/usr/sbin/agentschedd")).Exists || new FileInfo(Staged("/usr/sbin/agentschedd")).LinkTarget is not null);

        await Install("--uninstall", "--purge", "--destdir", _dest);
        Assert.False(Directory.Exists(Staged("/etc/agentsched")));
        // And a second uninstall has nothing left to do.
        await Install("--uninstall", "--purge", "--destdir", _dest);
    }

    [Fact]
    public async Task RefusesToInstallOntoTheHostWithoutRootOrWhenNotBuilt()
    {
        // --enable with --destdir is a usage error, checked before anything is written.
        ProcessResult r = await ProcessRunner.RunAsync(s_install, ["--enable", "--destdir", _dest], s_timeout);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("cannot be used with --destdir", r.Stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));

        r = await ProcessRunner.RunAsync(s_install, ["--frobnicate"], s_timeout);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("unknown option '--frobnicate'", r.Stderr);
    }

    [Fact]
    public async Task TheExampleConfigurationPassesTheDaemonsValidation()
    {
        string example = Path.Combine(RepoPaths.Root, "packaging", "agentsched.json");
        string broken = Path.Combine(_dest, "broken.json");
        File.WriteAllText(broken, File.ReadAllText(example).Replace("\"SliceUs\": 3000", "\"SliceUs\": 5"));

        ProcessResult good = await RunDaemonWithConfig(example);
        ProcessResult bad = await RunDaemonWithConfig(broken);

        // The control: the daemon really reads $AGENTSCHED_CONFIG and refuses a bad value in it.
        Assert.Equal((int)DaemonExitCode.InvalidConfiguration, bad.ExitCode);
        Assert.Contains("Scheduler:SliceUs must be between 100 and 1000000 microseconds (got 5)", bad.Stderr);
        // This host has no sched_ext: with Mode=sched_ext from the command line (which outranks the
        // file) the example gets as far as that check (exit 3) instead of serving in fallback.
        Assert.DoesNotContain("invalid configuration", good.Stderr);
        Assert.NotEqual((int)DaemonExitCode.InvalidConfiguration, good.ExitCode);
    }

    private static async Task<ProcessResult> RunDaemonWithConfig(string config)
    {
        var psi = ProcessRunner.StartInfo(RepoPaths.Daemon, "--Scheduler:Mode=sched_ext");
        psi.Environment["AGENTSCHED_CONFIG"] = config;
        using var p = System.Diagnostics.Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(s_timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw;
        }
        return new ProcessResult(p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task SystemdAcceptsTheUnitWithoutAComplaint()
    {
        const string analyze = "/usr/bin/systemd-analyze";
        Assert.SkipUnless(File.Exists(analyze), "systemd-analyze is not installed");
        await Install("--destdir", _dest);

        // verify checks that every Exec*= command exists. With --root it also looks for the units
        // the service depends on (sysinit.target, ...) under the root, which a staged tree does not
        // have; so verify a copy whose ExecStart names the staged binary (and the host's units).
        string unit = File.ReadAllText(Staged("/usr/lib/systemd/system/agentsched.service"));
        Assert.Contains("\nExecStart=/usr/sbin/agentschedd\n", unit);
        string dir = Path.Combine(_dest, "verify");
        Directory.CreateDirectory(dir);
        string copy = Path.Combine(dir, "agentsched.service");
        File.WriteAllText(copy, unit.Replace("\nExecStart=/usr/sbin/agentschedd\n", $"\nExecStart={Staged("/usr/sbin/agentschedd")}\n"));

        ProcessResult r = await ProcessRunner.RunAsync(analyze, ["verify", copy], s_timeout);

        // Unknown keys and bad values are only warnings (exit 0): any output at all fails the test.
        string complaints = (r.Stderr + r.Stdout).Trim();
        Assert.True(complaints == "", $"systemd-analyze verify:\n{complaints}");
        Assert.Equal(0, r.ExitCode);
    }
}
