using System.Diagnostics;

namespace AgentSched.Daemon.Api;

/// <summary>A per-connection rate limit: <c>rate</c> tokens per second, at most <c>rate</c> banked. Not thread-safe (one per connection).</summary>
internal sealed class TokenBucket(int rate)
{
    private double _tokens = rate;
    private long _last = Stopwatch.GetTimestamp();

    public bool TryTake()
    {
        long now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(rate, _tokens + (now - _last) * (double)rate / Stopwatch.Frequency);
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }
        _tokens -= 1;
        return true;
    }
}
