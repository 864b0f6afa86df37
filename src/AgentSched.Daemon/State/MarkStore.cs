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
    /// Damaged records skipped by <see cref="Load"/>, and where copies of the files as they were are
    /// kept; null when nothing was damaged. Reported by <see cref="Problem"/> until the operator
    /// removes the copies.
    /// </summary>
    public (int Records, string[] Copies)? Damage { get; private set; }

    /// <summary>Why the marks on disk cannot be trusted right now, for status; null when they can.</summary>
    public string? Problem
    {
        get
        {
            if (LastError is { } error)
            {
                return $"marks cannot be persisted: {error}";
            }
            if (Damage is { } d && d.Copies.Where(File.Exists).ToArray() is { Length: > 0 } kept)
            {
                return $"{d.Records} damaged mark record(s) were skipped at start; the files as they were are kept in {string.Join(" and ", kept)} (remove them to acknowledge)";
            }
            return null;
        }
    }

    /// <summary>
    /// Reads the snapshot and replays the journal over it. An absent file is no marks. A damaged
    /// record costs that record only: the snapshot keeps one mark per line, so a file that is no
    /// longer JSON as a whole (truncated, overwritten in part) still gives up every whole line; a
    /// journal line that cannot be read is skipped and the lines after it are replayed. A torn last
    /// journal line (a crash in the middle of an append cannot make one, a power cut can) is not
    /// damage: its append was never acknowledged. When anything was skipped, the files are copied
    /// aside as they were (suffix .damaged-STAMP), logged, and reported by <see cref="Problem"/>.
    /// </summary>
    public List<PersistedMark> Load()
    {
        var marks = new Dictionary<int, PersistedMark>();
        int damaged = 0;
        var reasons = new List<string>();
        if (File.Exists(Path))
        {
            damaged += ReadSnapshot(File.ReadAllBytes(Path), marks, reasons);
        }
        if (File.Exists(JournalPath))
        {
            damaged += Replay(File.ReadAllBytes(JournalPath), marks, reasons);
        }
        if (damaged > 0)
        {
            string stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            var copies = new List<string>();
            foreach (string file in new[] { Path, JournalPath }.Where(File.Exists))
            {
                File.Copy(file, $"{file}.damaged-{stamp}", overwrite: true);
                copies.Add($"{file}.damaged-{stamp}");
            }
            Damage = (damaged, [.. copies]);
            LogDamaged(damaged, Path, string.Join("; ", reasons.Take(3)), marks.Count, string.Join(", ", copies));
        }
        return [.. marks.Values];
    }

    /// <summary>Reads marks.json into <paramref name="marks"/>; the number of records it could not read.</summary>
    private static int ReadSnapshot(byte[] bytes, Dictionary<int, PersistedMark> marks, List<string> reasons)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            reasons.Add($"marks.json is not JSON as a whole ({e.Message}); read line by line");
            return Salvage(bytes, marks, reasons);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("version", out JsonElement version) || version.ValueKind != JsonValueKind.Number
                || !doc.RootElement.TryGetProperty("marks", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            {
                reasons.Add("marks.json has no version and marks array");
                return Salvage(bytes, marks, reasons);
            }
            if (!version.TryGetInt32(out int v) || v != FormatVersion)
            {
                reasons.Add($"marks.json has format version {version}, not {FormatVersion}");
                return Math.Max(1, list.GetArrayLength());
            }
            int bad = 0;
            foreach (JsonElement m in list.EnumerateArray())
            {
                if (TryRead(m, out PersistedMark? mark, reasons)) marks[mark!.Pid] = mark; else bad++;
            }
            return bad;
        }
    }

    /// <summary>Every line of a damaged snapshot that is one whole mark; the lines that look like marks but are not.</summary>
    private static int Salvage(byte[] bytes, Dictionary<int, PersistedMark> marks, List<string> reasons)
    {
        int bad = 0;
        foreach (string raw in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            string line = raw.Trim().TrimEnd(',');
            if (!line.StartsWith("{\"pid\"", StringComparison.Ordinal))
            {
                if (line.Length > 0 && !line.StartsWith("{\"version\"", StringComparison.Ordinal) && line != "]}") bad++;
                continue;
            }
            try
            {
                using JsonDocument doc = JsonDocument.Parse(line);
                if (TryRead(doc.RootElement, out PersistedMark? mark, reasons)) marks[mark!.Pid] = mark; else bad++;
            }
            catch (JsonException)
            {
                bad++;
            }
        }
        return Math.Max(bad, 1); // the file was damaged even if every mark line survived
    }

    private static bool TryRead(JsonElement e, out PersistedMark? mark, List<string> reasons)
    {
        try
        {
            mark = MarkSerializer.Read(e);
            return true;
        }
        catch (Exception x) when (x is InvalidDataException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            reasons.Add(x.Message);
            mark = null;
            return false;
        }
    }

    /// <summary>Replays the journal over <paramref name="marks"/>; the number of lines it could not apply.</summary>
    private static int Replay(byte[] journal, Dictionary<int, PersistedMark> marks, List<string> reasons)
    {
        string[] lines = Encoding.UTF8.GetString(journal).Split('\n');
        int bad = 0;
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
            catch (JsonException e)
            {
                if (i == lines.Length - 1)
                {
                    break; // a torn final line: the append it belonged to was never acknowledged
                }
                reasons.Add($"marks.journal line {i + 1}: {e.Message}");
                bad++;
                continue;
            }
            using (doc)
            {
                JsonElement r = doc.RootElement;
                string? op = r.ValueKind == JsonValueKind.Object && r.TryGetProperty("op", out JsonElement o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                if (op == "put" && TryRead(r, out PersistedMark? m, reasons))
                {
                    marks[m!.Pid] = m;
                }
                else if (op == "del" && r.TryGetProperty("pid", out JsonElement p) && p.TryGetInt32(out int pid)
                    && r.TryGetProperty("start_time", out JsonElement st) && st.TryGetUInt64(out ulong start))
                {
                    if (marks.TryGetValue(pid, out PersistedMark? old) && old.StartTimeTicks == start)
                    {
                        marks.Remove(pid);
                    }
                }
                else
                {
                    if (op is not "put") reasons.Add($"marks.journal line {i + 1}: not a put or a del");
                    bad++;
                }
            }
        }
        return bad;
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
        // One mark per line, so that a damaged file still gives up every whole line (Load).
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
        {
            file.Write(Encoding.UTF8.GetBytes($"{{\"version\":{FormatVersion},\"marks\":[\n"));
            for (int i = 0; i < marks.Count; i++)
            {
                file.Write(MarkSerializer.ToLine(marks[i]));
                file.Write(i < marks.Count - 1 ? ",\n"u8 : "\n"u8);
            }
            file.Write("]}\n"u8);
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

    [LoggerMessage(Level = LogLevel.Error, Message = "skipped {Count} damaged mark record(s) in {Path} or its journal ({Reasons}); started with the {Kept} marks that could be read; the files as they were are kept in {Copies}: status reports unhealthy until they are removed")]
    private partial void LogDamaged(int count, string path, string reasons, int kept, string copies);
}
