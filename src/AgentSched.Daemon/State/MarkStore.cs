using System.Text;
using System.Text.Json;
using AgentSched.Daemon.Marks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace AgentSched.Daemon.State;

/// <summary>
/// Persists the registry's marks under State:Directory as a snapshot, marks.json, written to a
/// temporary file and renamed over the old one (always a whole snapshot), plus a journal,
/// marks.journal, of the changes since that snapshot: one JSON line per mark put or deleted,
/// appended with a single write(2). A caller whose change must be durable awaits
/// <see cref="FlushAsync"/>; one append covers every change made before it started. The journal is
/// folded into a new snapshot every <see cref="CompactAfter"/> records and at every start.
///
/// No fsync: marks name processes by pid and start time, so they mean nothing after a reboot; what
/// they must survive is the daemon's own death (a crash, kill -9, OOM), and a completed write(2)
/// or rename(2) is in the page cache for the next daemon whatever happens to this one. So an
/// append costs microseconds where a snapshot costs a file creation and a rename.
/// </summary>
internal sealed partial class MarkStore(MarkRegistry registry, IOptions<StateOptions> options, ILogger<MarkStore> logger) : IDisposable
{
    private const int FormatVersion = 1;
    internal const int CompactAfter = 4096;

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<int, (ulong Start, byte[] Line)> _onDisk = [];
    private SafeFileHandle? _journal;
    private long _journalLength;
    private int _journalRecords;
    private long _written = -1;

    public string Path => options.Value.MarksFile;

    private string JournalPath => System.IO.Path.ChangeExtension(Path, ".journal");

    /// <summary>Why the last write failed; null when the files are up to date with the last flush.</summary>
    public string? LastError { get; private set; }

    /// <summary>
    /// Returns once a state at least as new as the registry's current generation is on disk;
    /// <paramref name="compact"/> writes it as a fresh snapshot (a clean stop leaves no journal).
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default, bool compact = false)
    {
        long wanted = registry.Generation;
        if (!compact && Interlocked.Read(ref _written) >= wanted)
        {
            return;
        }
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!compact && Interlocked.Read(ref _written) >= wanted)
            {
                return; // a write that started after our change covered it
            }
            (long generation, List<PersistedMark> marks) = registry.Snapshot();
            try
            {
                if (compact || _journal is null || _journalRecords >= CompactAfter)
                {
                    Compact(marks);
                }
                else
                {
                    Append(marks);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The marks stay applied and in memory; the next flush retries with a full snapshot.
                _journal?.Dispose();
                _journal = null;
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

    /// <summary>
    /// Reads the snapshot and replays the journal over it. An absent file is no marks; a torn last
    /// journal line (a crash in the middle of an append cannot make one, a power cut can) is
    /// ignored; anything else unreadable is logged and set aside.
    /// </summary>
    public List<PersistedMark> Load()
    {
        var marks = new Dictionary<int, PersistedMark>();
        try
        {
            if (File.Exists(Path))
            {
                using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path));
                if (doc.RootElement.GetProperty("version").GetInt32() != FormatVersion)
                {
                    throw new InvalidDataException($"unknown marks.json version {doc.RootElement.GetProperty("version")}");
                }
                foreach (JsonElement m in doc.RootElement.GetProperty("marks").EnumerateArray())
                {
                    PersistedMark mark = MarkSerializer.Read(m);
                    marks[mark.Pid] = mark;
                }
            }
            if (File.Exists(JournalPath))
            {
                Replay(File.ReadAllBytes(JournalPath), marks);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            string stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            foreach (string file in new[] { Path, JournalPath }.Where(File.Exists))
            {
                File.Move(file, $"{file}.corrupt-{stamp}", overwrite: true);
            }
            LogCorrupt(Path, e.Message, stamp);
            return [];
        }
        return [.. marks.Values];
    }

    private static void Replay(byte[] journal, Dictionary<int, PersistedMark> marks)
    {
        string[] lines = Encoding.UTF8.GetString(journal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(lines[i]);
            }
            catch (JsonException) when (i == lines.Length - 1)
            {
                break; // a torn final line: the append it belonged to was never acknowledged
            }
            using (doc)
            {
                JsonElement r = doc.RootElement;
                switch (r.GetProperty("op").GetString())
                {
                    case "put":
                        PersistedMark m = MarkSerializer.Read(r);
                        marks[m.Pid] = m;
                        break;
                    case "del":
                        int pid = r.GetProperty("pid").GetInt32();
                        if (marks.TryGetValue(pid, out PersistedMark? old) && old.StartTimeTicks == r.GetProperty("start_time").GetUInt64())
                        {
                            marks.Remove(pid);
                        }
                        break;
                    default:
                        throw new InvalidDataException($"unknown journal op in line {i + 1}");
                }
            }
        }
    }

    /// <summary>Appends the difference between what is on disk and <paramref name="marks"/>, in one write.</summary>
    private void Append(List<PersistedMark> marks)
    {
        var buffer = new MemoryStream();
        var seen = new HashSet<int>();
        int records = 0;
        var changes = new List<(int Pid, (ulong, byte[])? Entry)>();
        foreach (PersistedMark m in marks)
        {
            seen.Add(m.Pid);
            byte[] line = MarkSerializer.ToLine(m);
            if (_onDisk.TryGetValue(m.Pid, out (ulong Start, byte[] Line) disk) && disk.Line.AsSpan().SequenceEqual(line))
            {
                continue;
            }
            if (disk.Line is not null && disk.Start != m.StartTimeTicks)
            {
                buffer.Write(MarkSerializer.DeleteLine(m.Pid, disk.Start));
                buffer.WriteByte((byte)'\n');
                records++;
            }
            buffer.Write(MarkSerializer.ToLine(m, "put"));
            buffer.WriteByte((byte)'\n');
            records++;
            changes.Add((m.Pid, (m.StartTimeTicks, line)));
        }
        foreach ((int pid, (ulong start, _)) in _onDisk.Where(p => !seen.Contains(p.Key)).ToList())
        {
            buffer.Write(MarkSerializer.DeleteLine(pid, start));
            buffer.WriteByte((byte)'\n');
            records++;
            changes.Add((pid, null));
        }
        if (records == 0)
        {
            return;
        }
        RandomAccess.Write(_journal!, buffer.GetBuffer().AsSpan(0, (int)buffer.Length), _journalLength);
        _journalLength += buffer.Length;
        _journalRecords += records;
        foreach ((int pid, (ulong, byte[])? entry) in changes)
        {
            if (entry is { } e) _onDisk[pid] = e; else _onDisk.Remove(pid);
        }
    }

    /// <summary>Writes a whole snapshot (temporary file, rename) and starts an empty journal.</summary>
    private void Compact(List<PersistedMark> marks)
    {
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        string temp = $"{Path}.tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
        using (var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", FormatVersion);
            w.WriteStartArray("marks");
            foreach (PersistedMark m in marks)
            {
                MarkSerializer.Write(w, m);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        File.Move(temp, Path, overwrite: true); // rename(2): readers see the old file or the new one
        // Only now is the journal redundant. Replaying it over the new snapshot would change nothing,
        // so a crash between the rename and the truncation loses nothing either.
        _journal ??= File.OpenHandle(JournalPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        RandomAccess.SetLength(_journal, 0);
        _journalLength = 0;
        _journalRecords = 0;
        _onDisk.Clear();
        foreach (PersistedMark m in marks)
        {
            _onDisk[m.Pid] = (m.StartTimeTicks, MarkSerializer.ToLine(m));
        }
    }

    public void Dispose() => _journal?.Dispose();

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot persist marks to {Path}: {Reason}; they stay applied, but a restarted daemon would not know them")]
    private partial void LogWriteFailed(string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "marks are persisted to {Path} again")]
    private partial void LogWriteRecovered(string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Path} or its journal is unreadable ({Reason}); set both aside with the suffix .corrupt-{Stamp} and started with no marks")]
    private partial void LogCorrupt(string path, string reason, string stamp);
}
