using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace AgentSched.Workload.Tests;

public sealed class StartBarrierTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("agentsched-barrier-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AWaiterSaysItIsReadyAndGoesOnlyOnceTheHarnessOpensTheFifoForWriting()
    {
        string ready = Path.Combine(_dir, "ready"), go = MakeFifo("go");
        var waiter = new Thread(() => StartBarrier.Of(ready, go)!()) { IsBackground = true };
        waiter.Start();

        Assert.True(SpinWait.SpinUntil(() => File.Exists(ready), TimeSpan.FromSeconds(10)), "the ready file was not created");
        Assert.False(waiter.Join(TimeSpan.FromMilliseconds(300)), "the waiter went before the go");

        using SafeFileHandle writer = File.OpenHandle(go, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        Assert.True(waiter.Join(TimeSpan.FromSeconds(10)), "the waiter did not go once the FIFO was opened for writing");
    }

    [Fact]
    public void ARegularGoFileIsABarrierAlreadyOpen()
    {
        string go = Path.Combine(_dir, "go");
        File.WriteAllText(go, "");

        StartBarrier.Of(Path.Combine(_dir, "ready"), go)!();

        Assert.True(File.Exists(Path.Combine(_dir, "ready")));
    }

    [Fact]
    public void AMissingGoFileIsAnErrorThatNamesIt()
    {
        string go = Path.Combine(_dir, "go");

        var e = Assert.Throws<FileNotFoundException>(() => StartBarrier.Of(Path.Combine(_dir, "ready"), go)!());

        Assert.Contains(go, e.Message, StringComparison.Ordinal);
        Assert.Contains("mkfifo", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SharedByThreadsTheReadyFileComesWithTheLastOfThem()
    {
        string ready = Path.Combine(_dir, "ready"), go = Path.Combine(_dir, "go");
        File.WriteAllText(go, "");
        Action barrier = StartBarrier.Of(ready, go, parties: 3)!;

        barrier();
        barrier();
        Assert.False(File.Exists(ready), "ready with two of the three arrived");
        barrier();
        Assert.True(File.Exists(ready));
    }

    [Fact]
    public void NoReadyFileMeansNoBarrier() => Assert.Null(StartBarrier.Of(null, null));

    private string MakeFifo(string name)
    {
        string path = Path.Combine(_dir, name);
        using Process p = Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }
}
