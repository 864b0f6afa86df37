using AgentSched.Interop;
using AgentSched.Interop.Native;

namespace AgentSched.Interop.Tests;

/// <summary>
/// A pinned link keeps its program attached after every fd closes and the object is gone; removing
/// the pin and closing the last fd detaches it. Shown with an iterator, which needs no sched_ext.
/// </summary>
public sealed class BpfLinkPinTests : IDisposable
{
    private readonly BpfFsDir _dir = BpfFsDir.Create();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DisposingAnUnpinnedLinkDetachesIt()
    {
        using BpfObject obj = BpfMapPinTests.LoadPinMaps();
        BpfLink link = obj.AttachProgram("dump_counter");
        uint id = link.Id;
        Assert.True(LinkExists(id));

        link.Dispose();

        Assert.True(link.IsDetached);
        Assert.True(WaitUntilGone(id));
    }

    [Fact]
    public void APinnedLinkStaysAttachedAfterDisposeUntilUnpinned()
    {
        uint id;
        using (BpfObject obj = BpfMapPinTests.LoadPinMaps())
        {
            obj.Map("counters").Update(BpfMapPinTests.U32(0), BitConverter.GetBytes(41UL));
            using BpfLink link = obj.AttachProgram("dump_counter");
            link.Pin(_dir["link"]);
            Assert.Equal(_dir["link"], link.PinPath);
            id = link.Id;
        }

        // Object and link handles are closed: the pin alone keeps the program attached and running.
        Assert.True(LinkExists(id));
        Assert.Equal("counters[0]=41\n", File.ReadAllText(_dir["link"]));

        using (BpfLink reopened = BpfLink.OpenPinned(_dir["link"]))
        {
            Assert.Equal(id, reopened.Id);
            Assert.Equal(_dir["link"], reopened.PinPath);
            reopened.Unpin();
            Assert.Null(reopened.PinPath);
            Assert.False(File.Exists(_dir["link"]));
            Assert.True(LinkExists(id));   // our fd still holds it
        }

        Assert.True(WaitUntilGone(id));
    }

    [Fact]
    public void DetachRemovesThePinAndDetaches()
    {
        using BpfObject obj = BpfMapPinTests.LoadPinMaps();
        using BpfLink link = obj.AttachProgram("dump_counter");
        link.Pin(_dir["link"]);
        uint id = link.Id;

        link.Detach();

        Assert.False(File.Exists(_dir["link"]));
        Assert.True(WaitUntilGone(id));
    }

    [Fact]
    public void PinFailuresNameTheCall()
    {
        using BpfObject obj = BpfMapPinTests.LoadPinMaps();
        using BpfLink link = obj.AttachProgram("dump_counter");
        link.Pin(_dir["link"]);

        var twice = Assert.Throws<BpfException>(() => link.Pin(_dir["other"]));
        Assert.Equal(16, twice.Errno); // EBUSY: one pin per libbpf link
        Assert.StartsWith("bpf_link__pin(dump_counter, ", twice.Operation);
        using BpfLink second = obj.AttachProgram("dump_counter");
        Assert.Equal(17, Assert.Throws<BpfException>(() => second.Pin(_dir["link"])).Errno); // EEXIST
        Assert.Equal(22, Assert.Throws<BpfException>(second.Unpin).Errno); // EINVAL: not pinned
        Assert.Equal(2, Assert.Throws<BpfException>(() => BpfLink.OpenPinned(_dir["missing"])).Errno);
        obj.Map("counters").Pin(_dir["counters"]);
        Assert.Contains("bpf-map", Assert.Throws<ArgumentException>(() => BpfLink.OpenPinned(_dir["counters"])).Message);
        link.Unpin();
    }

    [Fact]
    public void AttachProgramNeedsALoadedObjectAndAKnownProgram()
    {
        using BpfObject obj = BpfObject.OpenEmbedded(typeof(BpfLinkPinTests).Assembly, "pin_maps.bpf.o");
        Assert.Throws<InvalidOperationException>(() => obj.AttachProgram("dump_counter"));
        obj.Load();
        Assert.Throws<ArgumentException>(() => obj.AttachProgram("no_such_program"));
    }

    /// <summary>The kernel still has a link with this id.</summary>
    internal static bool LinkExists(uint id)
    {
        int fd = Libbpf.LinkGetFdById(id);
        if (fd >= 0)
        {
            Libc.Close(fd);
            return true;
        }
        Assert.Equal(-2, fd); // ENOENT; anything else is a broken test setup
        return false;
    }

    /// <summary>Waits up to 5 s for the kernel to free the link (the id goes when the last reference does).</summary>
    internal static bool WaitUntilGone(uint id)
    {
        for (int i = 0; i < 100; i++)
        {
            if (!LinkExists(id))
            {
                return true;
            }
            Thread.Sleep(50);
        }
        return false;
    }
}
