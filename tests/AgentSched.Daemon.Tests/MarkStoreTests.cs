using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.State;
using AgentSched.Protocol;
using AgentSched.Tests;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Tests;

/// <summary>marks.json and marks.journal as a restarted daemon reads them.</summary>
public sealed class MarkStoreTests
{
    private static MarkStore Store(string dir) =>
        new(new MarkRegistry(new LiveOptions<ApiOptions>(new ApiOptions()), NullLogger<MarkRegistry>.Instance),
            Options.Create(new StateOptions { Directory = dir }), NullLogger<MarkStore>.Instance);

    private static string Snapshot(params string[] marks) => $$"""{"version":1,"marks":[{{string.Join(",", marks)}}]}""";

    private static string Mark(int pid, ulong start, string cls) =>
        $$"""{"pid":{{pid}},"thread":false,"start_time":{{start}},"requester_uid":0,"class":"{{cls}}","saved":[]}""";

    [Fact]
    public void TheJournalIsReplayedOverTheSnapshotAndATornLastLineIsIgnored()
    {
        string dir = DaemonProcess.NewDirectory();
        File.WriteAllText(Path.Combine(dir, "marks.json"), Snapshot(Mark(10, 100, "burst"), Mark(11, 110, "batch")));
        File.WriteAllText(Path.Combine(dir, "marks.journal"), string.Join("\n",
            """{"op":"del","pid":11,"start_time":110}""",
            """{"op":"put",""" + Mark(12, 120, "batch")[1..],
            """{"op":"put",""" + Mark(10, 100, "normal")[1..],
            """{"op":"del","pid":12,"start_time":999}""",   // another process's pid: not this mark
            """{"op":"put","pid":13,"thr"""));               // torn by a crash mid-write

        List<PersistedMark> marks = Store(dir).Load().OrderBy(m => m.Pid).ToList();

        Assert.Equal([10, 12], marks.Select(m => m.Pid));
        Assert.Equal(TaskClass.Normal, marks[0].State.Class);
        Assert.Equal(TaskClass.Batch, marks[1].State.Class);
    }

    /// <summary>Trust finding 5: one bad record costs that record, not the file, and the files as they were are kept and reported until removed.</summary>
    [Fact]
    public void ADamagedRecordCostsThatRecordOnly()
    {
        string dir = DaemonProcess.NewDirectory();
        File.WriteAllText(Path.Combine(dir, "marks.json"), Snapshot(Mark(10, 100, "burst"), Mark(11, 110, "urgent"), Mark(14, 140, "batch")));
        File.WriteAllText(Path.Combine(dir, "marks.journal"), string.Join("\n",
            """{"op":"frobnicate"}""",
            """{"op":"put",""" + Mark(12, 120, "batch")[1..],
            "{\"op\":\"put\",\"pid\":13,\"thr\u0000",                 // damaged mid-file
            """{"op":"del","pid":14,"start_time":140}""",
            """{"op":"put",""" + Mark(15, 150, "normal")[1..],
            ""));
        MarkStore store = Store(dir);

        List<PersistedMark> marks = store.Load().OrderBy(m => m.Pid).ToList();

        Assert.Equal([10, 12, 15], marks.Select(m => m.Pid));
        Assert.Equal(3, store.Damage!.Value.Records); // the unknown class, the unknown op, the unreadable line
        string[] copies = [.. Directory.GetFiles(dir, "*.damaged-*").Select(Path.GetFileName).Order()!];
        Assert.Equal(2, copies.Length);
        Assert.StartsWith("marks.journal.damaged-", copies[0]);
        Assert.StartsWith("marks.json.damaged-", copies[1]);
        Assert.Contains("3 damaged mark record(s)", store.Problem);

        foreach (string copy in Directory.GetFiles(dir, "*.damaged-*")) File.Delete(copy); // the operator acknowledges
        Assert.Null(store.Problem);
    }

    /// <summary>A snapshot cut short (or overwritten in part) still gives up every whole line, one mark per line.</summary>
    [Fact]
    public void ATruncatedSnapshotGivesUpEveryWholeMark()
    {
        string dir = DaemonProcess.NewDirectory();
        string full = "{\"version\":1,\"marks\":[\n" + string.Join(",\n",
            new[] { 10, 11, 12 }.Select(pid => System.Text.Encoding.UTF8.GetString(MarkSerializer.ToLine(Read(Mark(pid, (ulong)pid * 10, "batch")))))) + "\n]}\n";
        File.WriteAllText(Path.Combine(dir, "marks.json"), full[..(full.IndexOf("\"pid\":12", StringComparison.Ordinal) + 12)]);
        MarkStore store = Store(dir);

        Assert.Equal([10, 11], store.Load().Select(m => m.Pid).Order());
        Assert.NotNull(store.Problem);
    }

    private static PersistedMark Read(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return MarkSerializer.Read(doc.RootElement);
    }
}
