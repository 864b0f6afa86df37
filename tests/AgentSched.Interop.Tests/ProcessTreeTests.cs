using AgentSched.Interop.Kernel;

namespace AgentSched.Interop.Tests;

public sealed class ProcessTreeTests
{
    private const string Status = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t1\nTracerPid:\t0\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\n";

    [Fact]
    public void StatusGivesTheParentAndTheRealUidOfAGroupLeader()
    {
        Assert.Equal(new ProcessLink(4242, 1, 65534), ProcessTree.Parse(4242, Status));
        Assert.Null(ProcessTree.Parse(4243, Status.Replace("Pid:\t4242", "Pid:\t4243"))); // a thread of 4242: not a process
        Assert.Null(ProcessTree.Parse(4242, "Name:\tx\nTgid:\t4242\n")); // no PPid or Uid
    }

    [Fact]
    public void ProcessesCreatedAfterALastPidAreFound()
    {
        int? last = ProcessTree.LastPid();
        Assert.NotNull(last);
        using var child = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            IReadOnlyList<ProcessLink> created = ProcessTree.CreatedAfter(last);

            Assert.Contains(created, p => p.Pid == child.Id && p.ParentPid == Environment.ProcessId && p.RealUid == ProcessTree.Read(Environment.ProcessId)!.Value.RealUid);
            Assert.DoesNotContain(created, p => p.Pid == Environment.ProcessId); // older than the last pid
            Assert.Contains(ProcessTree.CreatedAfter(null), p => p.Pid == Environment.ProcessId); // unknown: every process
        }
        finally
        {
            child.Kill();
            child.WaitForExit();
        }
    }
}
