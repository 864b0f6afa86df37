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

    [Fact]
    public void ReadsAnAttachedScheduler()
    {
        string root = Path.Combine(_dir, "sched_ext");
        Directory.CreateDirectory(Path.Combine(root, "root"));
        File.WriteAllText(Path.Combine(root, "state"), "enabled\n");
        File.WriteAllText(Path.Combine(root, "root", "ops"), "agent_class\n");
        File.WriteAllText(Path.Combine(root, "enable_seq"), "7\n");
        File.WriteAllText(Path.Combine(root, "switch_all"), "1\n");

        SchedExtStatus s = SchedExtStatus.Read(root, Path.Combine(_dir, "osrelease"));

        Assert.Equal(("enabled", "agent_class", 7L, true), (s.State, s.Ops, s.EnableSeq, s.SwitchAll));
        Assert.True(s.IsAttached);
    }

    [Fact]
    public void DisabledHasNoOps()
    {
        string root = Path.Combine(_dir, "sched_ext");
        Directory.CreateDirectory(Path.Combine(root, "root"));
        File.WriteAllText(Path.Combine(root, "state"), "disabled\n");
        File.WriteAllText(Path.Combine(root, "root", "ops"), "agent_class\n");

        SchedExtStatus s = SchedExtStatus.Read(root);

        Assert.Null(s.Ops);
        Assert.False(s.IsAttached);
    }
}
