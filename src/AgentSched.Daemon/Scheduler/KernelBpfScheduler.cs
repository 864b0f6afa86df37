using System.Security.Cryptography;
using AgentSched.Interop;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Daemon.Scheduler;

/// <summary>
/// agent_class through libbpf. The attached scheduler's link and maps are pinned under
/// Scheduler:PinPath/&lt;identity&gt;, where the identity hashes the BPF object and the tunables: the
/// pins keep the scheduler attached when the daemon dies, and the identity tells a restarted daemon
/// whether what is pinned is its own build (adopt it) or not (replace it).
/// </summary>
public sealed class KernelBpfScheduler : IBpfScheduler
{
    private const string HintsPin = "hints";

    private readonly Lock _gate = new();
    private AgentClassScheduler? _scheduler;
    private string? _dir;

    public bool IsAttached
    {
        get { lock (_gate) return _scheduler is { IsAttached: true }; }
    }

    public string? SelfStepsUnavailable
    {
        get
        {
            lock (_gate) return _scheduler is null ? "agent_class is not attached" : _scheduler.SelfStepsUnavailable;
        }
    }

    public string PinDirectory(SchedulerOptions options) => Path.Combine(options.PinPath, Identity(options));

    public AdoptResult TryAdopt(SchedulerOptions options)
    {
        lock (_gate)
        {
            string dir = PinDirectory(options);
            var replaced = new List<string>();
            if (Directory.Exists(options.PinPath))
            {
                foreach (string other in Directory.GetDirectories(options.PinPath).Where(d => d != dir))
                {
                    RemovePins(other, keepHints: false);
                    replaced.Add(other);
                }
            }
            if (!File.Exists(Path.Combine(dir, "link")))
            {
                return new AdoptResult(false, replaced, null);
            }
            AgentClassScheduler adopted = AgentClassScheduler.Adopt(dir);
            SchedExtStatus status = SchedExtStatus.Read();
            SchedulerExit? exit = adopted.ReadExitInfo();
            if (status.State == "enabled" && status.Ops == "agent_class" && exit is null)
            {
                _scheduler = adopted;
                _dir = dir;
                return new AdoptResult(true, replaced, null);
            }
            // Pinned but no longer scheduling: the kernel ejected it while no daemon watched.
            adopted.Dispose();
            RemovePins(dir, keepHints: true);
            return new AdoptResult(false, replaced, exit ?? new SchedulerExit(0, "UNKNOWN", 0, "not attached", ""));
        }
    }

    public void Attach(SchedulerOptions options)
    {
        lock (_gate)
        {
            if (_scheduler is not null)
            {
                throw new InvalidOperationException("the scheduler is already attached");
            }
            string dir = PinDirectory(options);
            RemovePins(dir, keepHints: true);
            string hintsPath = Path.Combine(dir, HintsPin);
            using BpfMap? pinnedHints = File.Exists(hintsPath) ? BpfMap.OpenPinned(hintsPath) : null;
            AgentClassScheduler scheduler = AgentClassScheduler.Load(options.Tunables, options.ObjectPath, pinnedHints);
            try
            {
                scheduler.Attach();
                if (pinnedHints is not null)
                {
                    File.Delete(hintsPath); // our object shares that map; Pin puts it back at the same path
                }
                scheduler.Pin(dir);
                _scheduler = scheduler;
                _dir = dir;
            }
            catch
            {
                scheduler.Dispose();
                throw;
            }
        }
    }

    public void ReleaseEjected()
    {
        lock (_gate)
        {
            if (_dir is not null) RemovePins(_dir, keepHints: true);
            _scheduler?.Dispose();
            _scheduler = null;
        }
    }

    public void Detach()
    {
        lock (_gate)
        {
            if (_scheduler is null)
            {
                return;
            }
            if (_dir is not null)
            {
                _scheduler.Unpin(_dir);
                RemovePins(_dir, keepHints: false);
                string? root = Path.GetDirectoryName(_dir);
                if (root is not null && Directory.Exists(root) && !Directory.EnumerateFileSystemEntries(root).Any())
                {
                    Directory.Delete(root); // leave nothing in bpffs
                }
            }
            _scheduler.Dispose();
            _scheduler = null;
            _dir = null;
        }
    }

    public SchedulerExit? ReadExit()
    {
        lock (_gate) return _scheduler?.ReadExitInfo();
    }

    public void SetHint(ProcessHandle process, AgentHint hint)
    {
        lock (_gate) Current.SetHint(process, hint);
    }

    public void ClearHint(ProcessHandle process)
    {
        lock (_gate) Current.ClearHint(process);
    }

    public IReadOnlyDictionary<AgentStat, ulong> ReadStats()
    {
        lock (_gate) return Current.ReadStats();
    }

    public AgentLatencySnapshot ReadLatency()
    {
        lock (_gate) return Current.ReadLatency();
    }

    public AgentStepSnapshot ReadStepStats()
    {
        lock (_gate) return Current.ReadStepStats();
    }

    public TaskSteps? ReadSteps(ProcessHandle thread)
    {
        lock (_gate) return Current.ReadSteps(thread);
    }

    /// <summary>Closes our handles but leaves the pins: the scheduler stays attached (what a crash does).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _scheduler?.Dispose();
            _scheduler = null;
        }
    }

    private AgentClassScheduler Current => _scheduler ?? throw new InvalidOperationException("agent_class is not attached");

    /// <summary>Removes a pin directory's pins (which detaches a scheduler whose link only the pin held).</summary>
    private static void RemovePins(string dir, bool keepHints)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }
        foreach (string file in Directory.GetFiles(dir))
        {
            if (!(keepHints && Path.GetFileName(file) == HintsPin))
            {
                File.Delete(file);
            }
        }
        if (!keepHints)
        {
            Directory.Delete(dir);
        }
    }

    /// <summary>16 hex digits of SHA-256 over the BPF object and the tunables.</summary>
    internal static string Identity(SchedulerOptions options)
    {
        byte[] obj;
        if (options.ObjectPath is { Length: > 0 } path)
        {
            obj = File.ReadAllBytes(path);
        }
        else
        {
            using Stream s = typeof(BpfObject).Assembly.GetManifestResourceStream(BpfObject.AgentClassResource)
                ?? throw new InvalidOperationException($"{BpfObject.AgentClassResource} is not embedded in AgentSched.Interop");
            using var m = new MemoryStream();
            s.CopyTo(m);
            obj = m.ToArray();
        }
        byte[] tunables = System.Text.Encoding.UTF8.GetBytes(options.Tunables.ToString());
        return Convert.ToHexStringLower(SHA256.HashData([.. obj, .. tunables]))[..16];
    }
}
