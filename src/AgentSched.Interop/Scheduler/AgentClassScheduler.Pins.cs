using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Scheduler;

/// <summary>Pinning the scheduler in bpffs and adopting it from its pins.</summary>
public sealed unsafe partial class AgentClassScheduler
{
    /// <summary>The file names <see cref="Pin"/> creates in its directory.</summary>
    public const string LinkPin = "link", SelfStepLinkPin = "self_step_link", HintsPin = "hints", StatsPin = "stats", LatencyPin = "latency",
        StepStatsPin = "step_stats", StepRingsPin = "step_rings", ExitInfoPin = "exit_info";

    /// <summary>The map pins <see cref="Pin"/> creates, in the order it creates them (the link's comes last).</summary>
    public static IReadOnlyList<string> MapPins { get; } = [HintsPin, StatsPin, LatencyPin, StepStatsPin, StepRingsPin, ExitInfoPin];

    private const int ENOENT = 2;

    private (string Name, BpfMap Map)[] PinnableMaps =>
        [(HintsPin, _hints), (StatsPin, _stats), (LatencyPin, _latency), (StepStatsPin, _stepStats), (StepRingsPin, _stepRings), (ExitInfoPin, _exitInfo)];

    /// <summary>
    /// Pins the attached scheduler under <paramref name="dir"/> (on bpffs, created if missing):
    /// <c>link</c> (and <c>self_step_link</c> when self-steps are attached), <c>hints</c>, <c>stats</c>, <c>latency</c>, <c>step_stats</c>, <c>step_rings</c> and <c>exit_info</c>. From then on the
    /// kernel keeps the scheduler attached after <see cref="Dispose"/> and after this process exits;
    /// <see cref="Adopt"/> takes it over. A map already pinned there as the same kernel map (a reused
    /// <c>hints</c>) is left as it is. On failure the pins made so far are removed again.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not attached, or the link is pinned elsewhere.</exception>
    /// <exception cref="BpfException">A pin failed (EEXIST: another map or link is pinned there).</exception>
    public void Pin(string dir)
    {
        if (_link is not { IsDetached: false } link)
        {
            throw new InvalidOperationException("Attach() agent_class before pinning it");
        }
        string linkPath = Path.Combine(dir, LinkPin);
        if (link.PinPath is { } pinned && pinned != linkPath)
        {
            throw new InvalidOperationException($"agent_class's link is already pinned at {pinned}");
        }
        Directory.CreateDirectory(dir);
        var made = new List<(BpfMap Map, string Path)>();
        BpfLink? selfStepsPinned = null;
        try
        {
            foreach ((string name, BpfMap map) in PinnableMaps)
            {
                string path = Path.Combine(dir, name);
                if (!IsPinnedAt(map, path))
                {
                    map.Pin(path);
                    made.Add((map, path));
                }
            }
            if (_selfStepLink is { IsDetached: false, PinPath: null } selfSteps)
            {
                selfSteps.Pin(Path.Combine(dir, SelfStepLinkPin));
                selfStepsPinned = selfSteps;
            }
            if (link.PinPath is null)
            {
                link.Pin(linkPath);
            }
        }
        catch
        {
            selfStepsPinned?.Unpin();
            foreach ((BpfMap map, string path) in made)
            {
                TryUnpin(map, path);
            }
            throw;
        }
    }

    /// <summary>
    /// Removes this scheduler's pins under <paramref name="dir"/> (the link's, and each map's where
    /// the pin is the same kernel map), then <paramref name="dir"/> itself when that leaves it empty.
    /// A following <see cref="Dispose"/> detaches the scheduler. Call it before <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="BpfException">A pin could not be removed.</exception>
    public void Unpin(string dir)
    {
        string linkPath = Path.Combine(dir, LinkPin);
        if (_link is { IsDetached: false, PinPath: { } pinned } link && pinned == linkPath)
        {
            link.Unpin();
        }
        if (_selfStepLink is { IsDetached: false, PinPath: { } selfPinned } selfSteps && selfPinned == Path.Combine(dir, SelfStepLinkPin))
        {
            selfSteps.Unpin();
        }
        foreach ((string name, BpfMap map) in PinnableMaps)
        {
            string path = Path.Combine(dir, name);
            if (IsPinnedAt(map, path))
            {
                map.Unpin(path);
            }
        }
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
        {
            Directory.Delete(dir);
        }
    }

    /// <summary>
    /// Takes over a scheduler pinned by <see cref="Pin"/> under <paramref name="dir"/>, from the pins
    /// alone (no BPF object): hints, counters and exit info work as on a loaded one. The link is
    /// optional: <see cref="IsAttached"/> is true when <c>dir/link</c> was there to open.
    /// <see cref="Attach"/> is not possible; <see cref="Unpin"/> then <see cref="Dispose"/> detaches.
    /// </summary>
    /// <exception cref="BpfException">A map pin is missing (ENOENT) or cannot be opened.</exception>
    /// <exception cref="InvalidDataException">A pinned map is not shaped like agent_class's (another ABI version).</exception>
    public static AgentClassScheduler Adopt(string dir)
    {
        var opened = new List<IDisposable>();
        try
        {
            BpfMap hints = OpenMap(dir, HintsPin, BpfMapType.TaskStorage, sizeof(AgentHint), opened);
            BpfMap stats = OpenMap(dir, StatsPin, BpfMapType.PerCpuArray, sizeof(ulong) * Enum.GetValues<AgentStat>().Length, opened);
            BpfMap latency = OpenMap(dir, LatencyPin, BpfMapType.PerCpuArray, sizeof(AgentLatency), opened);
            BpfMap stepStats = OpenMap(dir, StepStatsPin, BpfMapType.PerCpuArray, sizeof(AgentStepStats), opened);
            BpfMap stepRings = OpenMap(dir, StepRingsPin, BpfMapType.TaskStorage, sizeof(AgentStepRing), opened);
            BpfMap exitInfo = OpenMap(dir, ExitInfoPin, BpfMapType.Array, sizeof(AgentExitInfo), opened);
            BpfLink? link = null;
            try
            {
                link = BpfLink.OpenPinned(Path.Combine(dir, LinkPin));
            }
            catch (BpfException e) when (e.Errno == ENOENT)
            {
            }
            BpfLink? selfSteps = null;
            try
            {
                selfSteps = BpfLink.OpenPinned(Path.Combine(dir, SelfStepLinkPin));
            }
            catch (BpfException e) when (e.Errno == ENOENT)
            {
            }
            return new AgentClassScheduler(null, hints, stats, latency, stepStats, stepRings, exitInfo, link)
            {
                _selfStepLink = selfSteps,
                _selfStepProblem = selfSteps is null ? $"no self-step link was pinned at {Path.Combine(dir, SelfStepLinkPin)}" : null,
            };
        }
        catch
        {
            opened.ForEach(d => d.Dispose());
            throw;
        }
    }

    private static BpfMap OpenMap(string dir, string name, BpfMapType type, int valueSize, List<IDisposable> opened)
    {
        string path = Path.Combine(dir, name);
        BpfMap map = BpfMap.OpenPinned(path);
        opened.Add(map);
        if (map.Type != type || map.ValueSize != valueSize)
        {
            throw new InvalidDataException($"{path} is a {map.Type} map of {map.ValueSize}-byte values, not agent_class's {type} of {valueSize}-byte values");
        }
        return map;
    }

    /// <summary>Whether <paramref name="path"/> is a pin of the same kernel map as <paramref name="map"/>.</summary>
    private static bool IsPinnedAt(BpfMap map, string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        try
        {
            using BpfMap pinned = BpfMap.OpenPinned(path);
            return pinned.Id == map.Id;
        }
        catch (Exception e) when (e is BpfException or ArgumentException)
        {
            return false;
        }
    }

    private static void TryUnpin(BpfMap map, string path)
    {
        try
        {
            map.Unpin(path);
        }
        catch (BpfException)
        {
        }
    }
}
