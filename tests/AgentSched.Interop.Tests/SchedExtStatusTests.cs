using AgentSched.Interop.Kernel;

namespace AgentSched.Interop.Tests;

public sealed class SchedExtStatusTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("schedext-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MissingSysfsDirectoryMeansUnsupported()
    {
        File.WriteAllText(Path.Combine(_dir, "osrelease"), "6.1.0-test\n");

        SchedExtStatus s = SchedExtStatus.Read(Path.Combine(_dir, "none"), Path.Combine(_dir, "osrelease"));

        Assert.False(s.Supported);
        Assert.Equal("unsupported", s.State);
        Assert.Equal("6.1.0-test", s.KernelRelease);
        Assert.False(s.IsAttached);
    }

    /// <summary>A fake /sys/kernel/sched_ext with these files (relative path, content).</summary>
    private string FakeSysfs(params (string File, string Text)[] files)
    {
        string root = Path.Combine(_dir, "sched_ext");
        Directory.CreateDirectory(Path.Combine(root, "root"));
        foreach ((string file, string text) in files)
        {
            File.WriteAllText(Path.Combine(root, file), text + "\n");
        }
        return root;
    }

    [Fact]
    public void ReadsAnAttachedScheduler()
    {
        string root = FakeSysfs(("state", "enabled"), ("root/ops", "agent_class"), ("enable_seq", "7"), ("switch_all", "1"));

        SchedExtStatus s = SchedExtStatus.Read(root, Path.Combine(_dir, "osrelease"));

        Assert.Equal(("enabled", "agent_class", 7L, true), (s.State, s.Ops, s.EnableSeq, s.SwitchAll));
        Assert.True(s.IsAttached);
    }

    [Fact]
    public void DisabledHasNoOps()
    {
        string root = FakeSysfs(("state", "disabled"), ("root/ops", "agent_class"));

        SchedExtStatus s = SchedExtStatus.Read(root);

        Assert.Null(s.Ops);
        Assert.False(s.IsAttached);
    }
}
