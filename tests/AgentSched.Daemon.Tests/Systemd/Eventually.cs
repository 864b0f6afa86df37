namespace AgentSched.Daemon.Tests.Systemd;

internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; returns its last value.</summary>
    public static async Task<bool> TrueWithin(TimeSpan timeout, Func<bool> condition)
    {
        DateTime end = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > end)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }
}
