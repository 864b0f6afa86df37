using System.Net.Sockets;

namespace AgentSched.Workload;

/// <summary>A stream socket connected to the daemon's Unix socket at a path.</summary>
internal static class UnixSocket
{
    /// <summary>Connects to <paramref name="path"/>; the socket is disposed if the connect fails.</summary>
    public static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
