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

    [Fact]
    public void ACorruptFileIsSetAsideAndTheDaemonStartsEmpty()
    {
        string dir = DaemonProcess.NewDirectory();
        File.WriteAllText(Path.Combine(dir, "marks.json"), Snapshot(Mark(10, 100, "burst")));
        File.WriteAllText(Path.Combine(dir, "marks.journal"), "{\"op\":\"frobnicate\"}\n{\"op\":\"del\",\"pid\":1,\"start_time\":1}\n");

        Assert.Empty(Store(dir).Load());
        Assert.False(File.Exists(Path.Combine(dir, "marks.json")));
        Assert.Single(Directory.GetFiles(dir, "marks.json.corrupt-*"));
        Assert.Single(Directory.GetFiles(dir, "marks.journal.corrupt-*"));
    }
}
