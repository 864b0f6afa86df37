using System.Text.Json;
using AgentSched.Daemon.Marks;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.State;

/// <summary>
/// Persists the registry's marks to State:Directory/marks.json by writing a temporary file and
/// renaming it over the old one, so the file is always a whole snapshot. Writes are batched: a
/// caller that needs its change on disk awaits <see cref="FlushAsync"/>, and one write covers every
/// change made before it started.
///
/// No fsync: marks name processes by pid and start time, so they mean nothing after a reboot; what
/// they must survive is the daemon's own death (a crash, kill -9, OOM), and a completed rename is
/// in the page cache for the next daemon whatever happens to this one.
/// </summary>
internal sealed partial class MarkStore(MarkRegistry registry, IOptions<StateOptions> options, ILogger<MarkStore> logger)
{
    private const int FormatVersion = 1;

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private long _written = -1;

    public string Path => options.Value.MarksFile;

    /// <summary>Why the last write failed; null when marks.json is up to date with the last flush.</summary>
    public string? LastError { get; private set; }

    /// <summary>Returns once a snapshot at least as new as the registry's current generation is on disk.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long wanted = registry.Generation;
        if (Interlocked.Read(ref _written) >= wanted)
        {
            return;
        }
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Interlocked.Read(ref _written) >= wanted)
            {
                return; // a write that started after our change covered it
            }
            (long generation, List<PersistedMark> marks) = registry.Snapshot();
            try
            {
                Write(marks);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The marks stay applied and in memory; the next change retries the write.
                if (LastError is null)
                {
                    LogWriteFailed(Path, e.Message);
                }
                LastError = e.Message;
                return;
            }
            if (LastError is not null)
            {
                LogWriteRecovered(Path);
                LastError = null;
            }
            Interlocked.Exchange(ref _written, generation);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads the persisted marks; an absent file is no marks, an unreadable one is logged and set aside.</summary>
    public List<PersistedMark> Load()
    {
        string path = Path;
        if (!File.Exists(path))
        {
            return [];
        }
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            string aside = $"{path}.corrupt-{DateTime.UtcNow:yyyyMMddHHmmss}";
            File.Move(path, aside, overwrite: true);
            LogCorrupt(path, e.Message, aside);
            return [];
        }
    }

    private void Write(List<PersistedMark> marks)
    {
        string path = Path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        string temp = $"{path}.tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
        using (var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", FormatVersion);
            w.WriteStartArray("marks");
            foreach (PersistedMark m in marks)
            {
                w.WriteStartObject();
                w.WriteNumber("pid", m.Pid);
                w.WriteBoolean("thread", m.IsThread);
                w.WriteNumber("start_time", m.StartTimeTicks);
                w.WriteNumber("requester_uid", m.RequesterUid);
                MarkState s = m.State;
                if (s.Class is { } c) w.WriteString("class", TaskClassNames.Name(c));
                if (s.EndNs is { } end) w.WriteNumber("end_ns", end);
                if (s.HomeCpu is { } home) w.WriteNumber("home_cpu", home);
                if (s.BudgetUs is { } budget) w.WriteNumber("budget_us", budget);
                if (s.StepEndNs is { } stepEnd) w.WriteNumber("step_end_ns", stepEnd);
                if (s.StepBudgetUs is { } stepBudget) w.WriteNumber("step_budget_us", stepBudget);
                w.WriteStartArray("saved");
                foreach ((int tid, SchedAttr a) in m.Saved)
                {
                    w.WriteStartObject();
                    w.WriteNumber("tid", tid);
                    w.WriteNumber("policy", (uint)a.Policy);
                    w.WriteNumber("nice", a.Nice);
                    w.WriteNumber("rt_priority", a.RtPriority);
                    w.WriteNumber("runtime_ns", a.RuntimeNs);
                    w.WriteNumber("flags", a.Flags);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        File.Move(temp, path, overwrite: true); // rename(2): readers see the old file or the new one
    }

    internal static List<PersistedMark> Parse(byte[] json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        if (root.GetProperty("version").GetInt32() != FormatVersion)
        {
            throw new InvalidDataException($"unknown marks.json version {root.GetProperty("version")}");
        }
        var marks = new List<PersistedMark>();
        foreach (JsonElement m in root.GetProperty("marks").EnumerateArray())
        {
            TaskClass? c = null;
            if (m.TryGetProperty("class", out JsonElement cls))
            {
                c = TaskClassNames.TryParse(cls.GetString(), out TaskClass parsed) ? parsed : throw new InvalidDataException($"unknown class '{cls}'");
            }
            var state = new MarkState(c, OptU64(m, "end_ns"), OptI32(m, "home_cpu"), OptI32(m, "budget_us"), OptU64(m, "step_end_ns"), OptI32(m, "step_budget_us"));
            var saved = new Dictionary<int, SchedAttr>();
            foreach (JsonElement a in m.GetProperty("saved").EnumerateArray())
            {
                saved[a.GetProperty("tid").GetInt32()] = new SchedAttr(
                    (SchedPolicy)a.GetProperty("policy").GetUInt32(), a.GetProperty("nice").GetInt32(),
                    a.GetProperty("rt_priority").GetUInt32(), a.GetProperty("runtime_ns").GetUInt64(), a.GetProperty("flags").GetUInt64());
            }
            marks.Add(new PersistedMark(m.GetProperty("pid").GetInt32(), m.GetProperty("thread").GetBoolean(),
                m.GetProperty("start_time").GetUInt64(), m.GetProperty("requester_uid").GetUInt32(), state, saved));
        }
        return marks;
    }

    private static ulong? OptU64(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) ? v.GetUInt64() : null;

    private static int? OptI32(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) ? v.GetInt32() : null;

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot persist marks to {Path}: {Reason}; they stay applied, but a restarted daemon would not know them")]
    private partial void LogWriteFailed(string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "marks are persisted to {Path} again")]
    private partial void LogWriteRecovered(string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Path} is unreadable ({Reason}); moved it to {Aside} and started with no marks")]
    private partial void LogCorrupt(string path, string reason, string aside);
}
