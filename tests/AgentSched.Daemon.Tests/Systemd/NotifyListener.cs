using System.Net.Sockets;
using System.Text;

namespace AgentSched.Daemon.Tests.Systemd;

/// <summary>
/// A real AF_UNIX SOCK_DGRAM socket standing in for systemd's notify socket: on a temporary path,
/// or on an abstract name. <see cref="Address"/> is what $NOTIFY_SOCKET would hold.
/// </summary>
internal sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string? _directory;

    private NotifyListener(string address, string bindPath, string? directory)
    {
        Address = address;
        _directory = directory;
        _socket.Bind(new UnixDomainSocketEndPoint(bindPath));
    }

    /// <summary>The $NOTIFY_SOCKET value for this listener ("/tmp/.../notify" or "@name").</summary>
    public string Address { get; }

    public static NotifyListener OnPath()
    {
        string dir = Directory.CreateTempSubdirectory("agentsched-notify-").FullName;
        string path = Path.Combine(dir, "notify");
        return new NotifyListener(path, path, dir);
    }

    public static NotifyListener Abstract()
    {
        string name = $"agentsched-test-{Guid.NewGuid():N}";
        return new NotifyListener("@" + name, "\0" + name, null);
    }

    /// <summary>The next datagram, or null when none arrives within <paramref name="timeout"/>.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan timeout)
    {
        byte[] buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
