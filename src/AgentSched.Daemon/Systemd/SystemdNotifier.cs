using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Systemd;

/// <summary>
/// sd_notify over $NOTIFY_SOCKET: one AF_UNIX datagram per notification. A value starting with
/// '@' names a socket in Linux's abstract namespace (the '@' stands for the leading NUL byte).
/// Without the variable every call is a no-op. A failed send is logged once at warning level and
/// never reaches the caller: the service manager's view of the daemon must not take the daemon down.
/// </summary>
public sealed partial class SystemdNotifier : ISystemdNotifier
{
    public const string SocketVariable = "NOTIFY_SOCKET";

    // A datagram to a full receive queue would block; systemd drains its queue promptly, so a send
    // that takes this long means it is wedged, and the daemon must not wedge with it.
    private static readonly TimeSpan s_sendTimeout = TimeSpan.FromSeconds(2);

    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly string? _address;
    private readonly ILogger<SystemdNotifier> _logger;
    private int _failures;

    /// <param name="getEnvironment">Looks up an environment variable (<see cref="Environment.GetEnvironmentVariable(string)"/> outside tests).</param>
    public SystemdNotifier(Func<string, string?> getEnvironment, ILogger<SystemdNotifier> logger)
    {
        _logger = logger;
        _address = getEnvironment(SocketVariable);
        if (string.IsNullOrEmpty(_address))
        {
            _address = null;
            return;
        }
        _endPoint = ParseAddress(_address, out string? problem);
        if (problem is not null)
        {
            LogUnusableAddress(_address, problem);
        }
    }

    public bool IsEnabled => _endPoint is not null;

    public void Notify(string state)
    {
        if (_endPoint is null)
        {
            return;
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTimeout = (int)s_sendTimeout.TotalMilliseconds;
            socket.SendTo(Encoding.UTF8.GetBytes(state), SocketFlags.None, _endPoint);
        }
        catch (Exception e)
        {
            // Once at warning: a watchdog ping every few seconds must not flood the journal.
            if (Interlocked.Increment(ref _failures) == 1)
            {
                LogSendFailed(FirstLine(state), _address!, e.Message);
            }
            else
            {
                LogSendFailedAgain(FirstLine(state), e.Message);
            }
        }
    }

    /// <summary>
    /// The endpoint for a $NOTIFY_SOCKET value: an absolute path, or "@name" for the abstract
    /// name "\0name". Null with <paramref name="problem"/> set for anything else (e.g. systemd's
    /// "vsock:" form, which a daemon on the host never receives).
    /// </summary>
    internal static UnixDomainSocketEndPoint? ParseAddress(string address, out string? problem)
    {
        problem = null;
        string path;
        if (address.Length > 1 && address[0] == '@')
        {
            path = string.Concat("\0", address.AsSpan(1));
        }
        else if (address[0] == '/')
        {
            path = address;
        }
        else
        {
            problem = "only an absolute path or an abstract '@name' AF_UNIX address is supported";
            return null;
        }
        try
        {
            return new UnixDomainSocketEndPoint(path);
        }
        catch (ArgumentException e)
        {
            problem = e.Message; // e.g. longer than sun_path
            return null;
        }
    }

    private static string FirstLine(string? state)
    {
        if (state is null)
        {
            return "(null)";
        }
        int newline = state.IndexOf('\n');
        return newline < 0 ? state : state[..newline];
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "NOTIFY_SOCKET={Address} cannot be used ({Problem}); systemd will not hear from agentschedd")]
    private partial void LogUnusableAddress(string address, string problem);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "telling systemd {State} over NOTIFY_SOCKET={Address} failed: {Error} (further failures are logged at debug level)")]
    private partial void LogSendFailed(string state, string address, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "telling systemd {State} failed again: {Error}")]
    private partial void LogSendFailedAgain(string state, string error);
}
