using AgentSched.Interop;

namespace AgentSched.Interop.Tests;

public sealed class SyscallExceptionTests
{
    [Fact]
    public void TheMessageNamesTheCallTheErrnoAndItsText()
    {
        var e = new SyscallException("sched_setattr(1234)", 3);

        Assert.Equal("sched_setattr(1234) failed: ESRCH (errno 3): No such process", e.Message);
        Assert.Equal(("sched_setattr(1234)", 3, "ESRCH"), (e.Operation, e.Errno, e.ErrnoName));
        Assert.IsAssignableFrom<IOException>(e);
    }

    [Theory]
    [InlineData(95, "EOPNOTSUPP")]
    [InlineData(75, "EOVERFLOW")]
    [InlineData(524, "ENOTSUPP")]
    [InlineData(9999, "errno 9999")]
    public void ErrnoNamesCoverWhatTheKernelCallsReturn(int errno, string name)
    {
        var e = new SyscallException("op", errno);

        Assert.Equal(name, e.ErrnoName);
        Assert.StartsWith($"op failed: {name} (errno {errno}): ", e.Message);
    }
}
