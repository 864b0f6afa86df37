using AgentSched.Interop;

namespace AgentSched.Daemon.Scheduler;

/// <summary>Loads agent_class with libbpf and attaches it as the kernel's sched_ext scheduler.</summary>
public sealed class KernelBpfScheduler : IBpfScheduler
{
    internal const string StructOpsMap = "agent_class_ops";

    private BpfObject? _object;
    private BpfLink? _link;

    public bool IsAttached => _link is { IsDetached: false };

    public void Attach(SchedulerOptions options)
    {
        if (IsAttached)
        {
            throw new InvalidOperationException("the scheduler is already attached");
        }
        BpfObject obj = options.ObjectPath is { Length: > 0 } path ? BpfObject.OpenFile(path) : BpfObject.OpenEmbedded();
        try
        {
            obj.SetRodata("slice_ns", (ulong)options.SliceUs * 1000);
            obj.SetRodata("batch_slice_mult", (uint)options.BatchSliceMultiplier);
            obj.Load();
            _link = obj.AttachStructOps(StructOpsMap);
            _object = obj;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    public void Detach()
    {
        // The link first: destroying it unregisters the scheduler; then the object's programs and maps.
        _link?.Dispose();
        _link = null;
        _object?.Dispose();
        _object = null;
    }

    public void Dispose() => Detach();
}
