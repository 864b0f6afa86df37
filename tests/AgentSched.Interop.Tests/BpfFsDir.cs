namespace AgentSched.Interop.Tests;

/// <summary>A fresh directory under /sys/fs/bpf for one test, removed with everything pinned in it.</summary>
internal sealed class BpfFsDir : IDisposable
{
    private const string Root = "/sys/fs/bpf";

    private BpfFsDir(string path) => Path = path;

    public string Path { get; }

    /// <summary>Creates the directory; skips the test when /sys/fs/bpf is not a mounted bpffs.</summary>
    public static BpfFsDir Create()
    {
        if (!IsBpfFs(Root))
        {
            Assert.Skip($"{Root} is not a bpffs mount");
        }
        return new BpfFsDir(System.IO.Path.Combine(Root, $"agentsched-test-{Guid.NewGuid():N}"));
    }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }

    /// <summary>The last mount at <paramref name="mountPoint"/> (the one on top) has type "bpf".</summary>
    private static bool IsBpfFs(string mountPoint)
    {
        string? type = null;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "36 35 98:0 / /sys/fs/bpf rw,relatime shared:1 - bpf bpf rw,mode=700"
            string[] halves = line.Split(" - ", 2);
            string[] before = halves[0].Split(' ');
            if (halves.Length == 2 && before.Length > 4 && before[4] == mountPoint)
            {
                type = halves[1].Split(' ')[0];
            }
        }
        return type == "bpf";
    }
}
