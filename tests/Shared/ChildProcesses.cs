using System.Diagnostics;

namespace AgentSched.Tests;

/// <summary>Processes a test starts as targets (sleepers to mark); killed when the test ends.</summary>
internal sealed class ChildProcesses : IDisposable
{
    private readonly List<Process> _children = [];

    /// <summary>Starts <c>sleep SECONDS</c> and returns its pid.</summary>
    public int Sleeper(int seconds = 60)
    {
        var p = Process.Start("sleep", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        lock (_children) _children.Add(p);
        return p.Id;
    }

    public void Dispose()
    {
        lock (_children)
        {
            foreach (Process p in _children)
            {
                if (!p.HasExited) p.Kill();
                p.Dispose();
            }
            _children.Clear();
        }
    }
}
