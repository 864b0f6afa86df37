using System.Runtime.InteropServices;
using AgentSched.Interop;

namespace AgentSched.Interop.Tests;

/// <summary>Pinning maps in bpffs, reopening them without their object, and sharing them with a reloaded object.</summary>
public sealed class BpfMapPinTests : IDisposable
{
    private const int ENOENT = 2;
    private readonly BpfFsDir _dir = BpfFsDir.Create();

    public void Dispose() => _dir.Dispose();

    internal static BpfObject LoadPinMaps()
    {
        BpfObject obj = BpfObject.OpenEmbedded(typeof(BpfMapPinTests).Assembly, "pin_maps.bpf.o");
        obj.Load();
        return obj;
    }

    internal static byte[] U32(uint v) => BitConverter.GetBytes(v);

    internal static ulong ReadU64(BpfMap map, uint key)
    {
        byte[] value = new byte[8];
        Assert.True(map.TryLookup(U32(key), value));
        return BitConverter.ToUInt64(value);
    }

    [Fact]
    public void APinnedMapReopensWithTheKernelsDescriptionAndContents()
    {
        using BpfObject obj = LoadPinMaps();
        BpfMap counters = obj.Map("counters"), table = obj.Map("table");
        counters.Pin(_dir["counters"]);
        table.Pin(_dir["table"]);
        counters.Update(U32(1), BitConverter.GetBytes(42UL));
        table.Update(U32(7), [5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);

        using BpfMap pinnedCounters = BpfMap.OpenPinned(_dir["counters"]);
        using BpfMap pinnedTable = BpfMap.OpenPinned(_dir["table"]);

        Assert.Equal(("counters", BpfMapType.Array, 4, 8, 4u), (pinnedCounters.Name, pinnedCounters.Type, pinnedCounters.KeySize, pinnedCounters.ValueSize, pinnedCounters.MaxEntries));
        Assert.Equal(("table", BpfMapType.Hash, 4, 16, 64u), (pinnedTable.Name, pinnedTable.Type, pinnedTable.KeySize, pinnedTable.ValueSize, pinnedTable.MaxEntries));
        Assert.Equal((counters.Type, counters.KeySize, counters.ValueSize, counters.MaxEntries), (pinnedCounters.Type, pinnedCounters.KeySize, pinnedCounters.ValueSize, pinnedCounters.MaxEntries));
        Assert.Equal(counters.Id, pinnedCounters.Id);
        Assert.NotEqual(counters.Id, pinnedTable.Id);
        Assert.Equal(42UL, ReadU64(pinnedCounters, 1));
        byte[] row = new byte[16];
        Assert.True(pinnedTable.TryLookup(U32(7), row));
        Assert.Equal((5UL, 9u), (BitConverter.ToUInt64(row), BitConverter.ToUInt32(row, 8)));
        Assert.False(pinnedTable.TryLookup(U32(8), row));

        // Writes through the pin are the object's writes: one kernel map.
        pinnedCounters.Update(U32(2), BitConverter.GetBytes(7UL));
        Assert.Equal(7UL, ReadU64(counters, 2));
        Assert.True(pinnedTable.Delete(U32(7)));
        Assert.False(table.TryLookup(U32(7), row));
    }

    [Fact]
    public void APinnedMapOutlivesItsObject()
    {
        using (BpfObject obj = LoadPinMaps())
        {
            obj.Map("counters").Pin(_dir["counters"]);
            obj.Map("counters").Update(U32(3), BitConverter.GetBytes(33UL));
        }

        using BpfMap pinned = BpfMap.OpenPinned(_dir["counters"]);

        Assert.Equal(33UL, ReadU64(pinned, 3));
    }

    [Fact]
    public void AReloadedObjectSharesAPinnedMapThroughReuseMap()
    {
        using BpfObject first = LoadPinMaps();
        first.Map("counters").Pin(_dir["counters"]);
        first.Map("counters").Update(U32(0), BitConverter.GetBytes(7UL));

        using BpfObject second = BpfObject.OpenEmbedded(typeof(BpfMapPinTests).Assembly, "pin_maps.bpf.o");
        using (BpfMap pinned = BpfMap.OpenPinned(_dir["counters"]))
        {
            second.ReuseMap("counters", pinned);
        }
        second.Load();

        Assert.Equal(first.Map("counters").Id, second.Map("counters").Id);
        Assert.NotEqual(first.Map("table").Id, second.Map("table").Id);
        Assert.Equal(7UL, ReadU64(second.Map("counters"), 0));
        second.Map("counters").Update(U32(0), BitConverter.GetBytes(8UL));
        Assert.Equal(8UL, ReadU64(first.Map("counters"), 0));
    }

    [Fact]
    public void ReuseMapRefusesAMapOfAnotherShapeOrName()
    {
        using BpfObject first = LoadPinMaps();
        first.Map("table").Pin(_dir["table"]);
        using BpfMap table = BpfMap.OpenPinned(_dir["table"]);
        using BpfObject second = BpfObject.OpenEmbedded(typeof(BpfMapPinTests).Assembly, "pin_maps.bpf.o");

        var e = Assert.Throws<ArgumentException>(() => second.ReuseMap("counters", table));

        Assert.Contains("named 'table'", e.Message);
        second.Load();
        Assert.Throws<InvalidOperationException>(() => second.ReuseMap("table", table));
    }

    [Fact]
    public void UnpinRemovesThePinAndLeavesTheMap()
    {
        using BpfObject obj = LoadPinMaps();
        BpfMap counters = obj.Map("counters");
        counters.Pin(_dir["counters"]);
        counters.Pin(_dir["copy"]);   // a second pin of the same map, removed through a reopened handle
        using BpfMap pinned = BpfMap.OpenPinned(_dir["copy"]);

        counters.Unpin(_dir["counters"]);
        pinned.Unpin(_dir["copy"]);

        Assert.False(File.Exists(_dir["counters"]));
        Assert.False(File.Exists(_dir["copy"]));
        pinned.Update(U32(1), BitConverter.GetBytes(5UL));
        Assert.Equal(5UL, ReadU64(counters, 1));
        Assert.Equal(ENOENT, Assert.Throws<BpfException>(() => pinned.Unpin(_dir["copy"])).Errno);
        Assert.Equal(ENOENT, Assert.Throws<BpfException>(() => BpfMap.OpenPinned(_dir["counters"])).Errno);
    }

    [Fact]
    public void AMapReopenedFromItsPinCanBePinnedAgain()
    {
        using BpfObject obj = LoadPinMaps();
        obj.Map("table").Pin(_dir["table"]);
        using BpfMap pinned = BpfMap.OpenPinned(_dir["table"]);

        pinned.Pin(_dir["sub/table"]);

        using BpfMap again = BpfMap.OpenPinned(_dir["sub/table"]);
        Assert.Equal(obj.Map("table").Id, again.Id);
        Assert.Equal(17, Assert.Throws<BpfException>(() => pinned.Pin(_dir["table"])).Errno); // EEXIST
    }

    [Fact]
    public void OpenPinnedNamesTheMissingPathAndRefusesALink()
    {
        var missing = Assert.Throws<BpfException>(() => BpfMap.OpenPinned(_dir["nothing"]));
        Assert.Equal(ENOENT, missing.Errno);
        Assert.Equal($"bpf_obj_get({_dir["nothing"]})", missing.Operation);

        using BpfObject obj = LoadPinMaps();
        using BpfLink link = obj.AttachProgram("dump_counter");
        link.Pin(_dir["link"]);
        var notAMap = Assert.Throws<ArgumentException>(() => BpfMap.OpenPinned(_dir["link"]));
        Assert.Contains("bpf-link", notAMap.Message);
        link.Unpin();
    }

    [Fact]
    public void PinningOutsideBpffsFails()
    {
        using BpfObject obj = LoadPinMaps();
        string tmp = Path.Combine(Path.GetTempPath(), $"agentsched-notbpffs-{Guid.NewGuid():N}");
        try
        {
            var e = Assert.Throws<BpfException>(() => obj.Map("counters").Pin(Path.Combine(tmp, "counters")));
            Assert.Equal("EPERM", ErrnoName(e.Errno)); // the kernel's answer for a path outside bpffs
            obj.Map("counters").Pin(_dir["counters"]);
            using BpfMap pinned = BpfMap.OpenPinned(_dir["counters"]);
            var fromFd = Assert.Throws<BpfException>(() => pinned.Pin(Path.Combine(tmp, "counters")));
            Assert.Equal("EPERM", ErrnoName(fromFd.Errno));
        }
        finally
        {
            if (Directory.Exists(tmp))
            {
                Directory.Delete(tmp, recursive: true);
            }
        }
    }

    private static string ErrnoName(int errno) => new SyscallException("x", errno).ErrnoName;
}
