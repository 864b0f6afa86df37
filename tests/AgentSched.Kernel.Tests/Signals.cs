namespace AgentSched.Kernel.Tests;

internal static class Signals
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
}
