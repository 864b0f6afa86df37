using AgentSched.Daemon.Systemd;

namespace AgentSched.Daemon.Tests.Systemd;

/// <summary>Records what would have been sent to systemd.</summary>
internal sealed class RecordingNotifier(bool enabled = true) : ISystemdNotifier
{
    private readonly List<string> _sent = [];

    public bool IsEnabled => enabled;

    public string[] Sent
    {
        get { lock (_sent) { return [.. _sent]; } }
    }

    public int Count(string state) => Sent.Count(s => s == state);

    public void Notify(string state)
    {
        lock (_sent)
        {
            _sent.Add(state);
        }
    }
}
