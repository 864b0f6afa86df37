using System.Net.Sockets;

namespace AgentSched.Interop.Kernel;

/// <summary>Who is at the other end of a connection, as the kernel recorded it at connect time (SO_PEERCRED).</summary>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SOL_SOCKET = 1, SO_PEERCRED = 17;

    public bool IsRoot => Uid == 0;

    /// <summary>Reads struct ucred { pid_t pid; uid_t uid; gid_t gid; } of a connected Unix socket.</summary>
    public static PeerCredentials Of(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        int n = socket.GetRawSocketOption(SOL_SOCKET, SO_PEERCRED, ucred);
        if (n < 12)
        {
            throw new SocketException((int)SocketError.ProtocolOption);
        }
        return new PeerCredentials(
            BitConverter.ToInt32(ucred),
            BitConverter.ToUInt32(ucred[4..]),
            BitConverter.ToUInt32(ucred[8..]));
    }
}
