using AgentSched.Protocol;

namespace AgentSched.Daemon.Api;

/// <summary>The API's own counters, for <c>stats</c> and metrics. Lock-free.</summary>
internal sealed class ApiCounters
{
    private readonly long[] _errors = new long[ErrorCode.All.Count];
    private readonly long[] _ops = new long[Enum.GetValues<ApiOp>().Length];
    private long _requests, _connectionsOpen, _connectionsTotal;

    public long Requests => Interlocked.Read(ref _requests);

    public long ConnectionsOpen => Interlocked.Read(ref _connectionsOpen);

    public long ConnectionsTotal => Interlocked.Read(ref _connectionsTotal);

    public void Request(ApiOp? op)
    {
        Interlocked.Increment(ref _requests);
        if (op is { } o) Interlocked.Increment(ref _ops[(int)o]);
    }

    public void Error(string code)
    {
        int i = IndexOf(code);
        if (i >= 0) Interlocked.Increment(ref _errors[i]);
    }

    public void Opened()
    {
        Interlocked.Increment(ref _connectionsOpen);
        Interlocked.Increment(ref _connectionsTotal);
    }

    public void Closed() => Interlocked.Decrement(ref _connectionsOpen);

    public IEnumerable<(string Code, long Count)> Errors() =>
        ErrorCode.All.Select((code, i) => (code, Interlocked.Read(ref _errors[i])));

    public IEnumerable<(ApiOp Op, long Count)> Ops() =>
        Enum.GetValues<ApiOp>().Select(op => (op, Interlocked.Read(ref _ops[(int)op])));

    private static int IndexOf(string code)
    {
        for (int i = 0; i < ErrorCode.All.Count; i++)
        {
            if (ErrorCode.All[i] == code) return i;
        }
        return -1;
    }
}
