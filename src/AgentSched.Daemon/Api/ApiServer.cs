using System.Buffers;
using System.Net.Sockets;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.State;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Api;

/// <summary>
/// The Unix-socket API: newline-delimited JSON, persistent connections, pipelined requests answered
/// in order (docs/protocol.md). The socket is bound at start, so a daemon that cannot serve exits
/// with a clear error instead of running deaf. Each connection is served by one task; a bad client
/// gets error responses (or, for a broken socket, is dropped) and never affects the others.
/// </summary>
internal sealed partial class ApiServer(
    RequestHandler handler,
    MarkStore store,
    ApiCounters counters,
    LiveOptions<ApiOptions> options,
    ILogger<ApiServer> logger) : BackgroundService, IHostedLifecycleService
{
    private Socket? _listener;
    private string? _path;
    private string? _missingGroup;
    private bool _started;
    private readonly CancellationTokenSource _closing = new();
    private readonly List<Task> _connections = [];
    private readonly Dictionary<uint, int> _perUid = [];
    private int _admitted, _peak;
    private ulong? _fdLimit;

    /// <summary>Descriptors beyond one per connection and one per mark: the listener, the state files, libbpf's maps and links, /proc reads, the runtime's own.</summary>
    private const ulong FdReserve = 256;

    /// <summary>Connections open at once that count as a storm: once the last one closes, the memory they used is returned to the system.</summary>
    private const int StormConnections = 256;

    private static readonly TimeSpan s_acceptRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_refusalSend = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Binds before any service starts, so a second daemon on the same socket stops before it touches
    /// the scheduler. Connections wait in the backlog until every service has started.
    /// </summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        ApiOptions o = options.Current;
        _path = o.SocketPath;
        _listener = Bind(o);
        try
        {
            _fdLimit = FileDescriptorLimit.RaiseToHard();
        }
        catch (AgentSched.Interop.SyscallException e)
        {
            LogFdLimitUnknown(e.Message);
        }
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        _started = true;
        ApiOptions o = options.Current;
        if (_missingGroup is not null)
        {
            LogNoGroup(_missingGroup, o.SocketPath);
        }
        LogListening(o.SocketPath, o.SocketMode, o.SocketGroup.Length > 0 ? o.SocketGroup : "root");
        ulong needed = (ulong)o.MaxConnections + (ulong)o.MaxMarks + FdReserve;
        if (_fdLimit is { } limit && limit < needed)
        {
            LogFdLimitLow(limit, o.MaxConnections, o.MaxMarks, needed);
        }
        return Task.CompletedTask;
    }

    /// <summary>Closes the socket before any service stops, so no request reaches a stopping daemon.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Unlink the path first, so clients see "not running" rather than hang.
        if (_path is not null) File.Delete(_path);
        await _closing.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        Task[] open;
        lock (_connections) open = [.. _connections];
        try
        {
            await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>When another service failed to start, the socket bound early is removed here.</summary>
    public override void Dispose()
    {
        if (!_started && _listener is not null && _path is not null)
        {
            _listener.Dispose();
            File.Delete(_path);
        }
        _closing.Dispose();
        base.Dispose();
    }

    private Socket Bind(ApiOptions o)
    {
        string path = o.SocketPath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path) || Directory.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new DaemonStartupException(DaemonExitCode.AlreadyRunning,
                    $"another agentschedd is already serving {path}; stop it first (systemctl stop agentsched)");
            }
            catch (SocketException)
            {
                File.Delete(path); // left behind by a daemon that died
            }
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            _missingGroup = SetAccess(path, o); // a missing group is logged once the daemon has started
            listener.Listen(512);
            return listener;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            throw new DaemonStartupException(DaemonExitCode.Unexpected, $"cannot listen on {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Gives a socket file Api:SocketMode and Api:SocketGroup (the metrics socket gets the same);
    /// returns the group's name when no such group exists, so it was left root's.
    /// </summary>
    internal static string? SetAccess(string path, ApiOptions o)
    {
        File.SetUnixFileMode(path, o.ParsedSocketMode);
        if (o.SocketGroup.Length == 0)
        {
            return null;
        }
        if (FileOwnership.TryLookupGroup(o.SocketGroup) is not { } gid)
        {
            return o.SocketGroup;
        }
        FileOwnership.SetGroup(path, gid);
        return null;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _closing.Token);
        bool failing = false;
        try
        {
            while (!linked.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await _listener!.AcceptAsync(linked.Token).ConfigureAwait(false);
                }
                catch (SocketException e) when (!linked.IsCancellationRequested)
                {
                    // Out of descriptors (EMFILE, ENFILE) or kernel memory: the client waits in the
                    // backlog, and is taken once something is released. Logged once per spell.
                    if (!failing)
                    {
                        LogAcceptFailing(e.Message, counters.ConnectionsOpen);
                        failing = true;
                    }
                    await Task.Delay(s_acceptRetry, linked.Token).ConfigureAwait(false);
                    continue;
                }
                if (failing)
                {
                    LogAcceptRecovered();
                    failing = false;
                }
                lock (_connections)
                {
                    _connections.RemoveAll(t => t.IsCompleted);
                    _connections.Add(Task.Run(() => ServeAsync(client, linked.Token), CancellationToken.None));
                }
            }
        }
        catch (Exception e) when (linked.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    /// <summary>
    /// Admits a connection within Api:MaxConnections and Api:MaxConnectionsPerUid; null when admitted,
    /// else the refusal. <see cref="Release"/> undoes an admission.
    /// </summary>
    private ProtocolError? Admit(uint uid)
    {
        ApiOptions o = options.Current;
        lock (_perUid)
        {
            int mine = _perUid.GetValueOrDefault(uid);
            if (_admitted >= o.MaxConnections)
            {
                return new ProtocolError(ErrorCode.LimitExceeded,
                    $"agentschedd serves its maximum of {o.MaxConnections} connections (Api:MaxConnections); the connection is closed");
            }
            if (mine >= o.MaxConnectionsPerUid)
            {
                return new ProtocolError(ErrorCode.LimitExceeded,
                    $"uid {uid} already has {o.MaxConnectionsPerUid} connections open (Api:MaxConnectionsPerUid); the connection is closed");
            }
            _perUid[uid] = mine + 1;
            _peak = Math.Max(_peak, ++_admitted);
            return null;
        }
    }

    private void Release(uint uid)
    {
        int storm = 0;
        lock (_perUid)
        {
            _admitted--;
            if (_perUid[uid] == 1) _perUid.Remove(uid); else _perUid[uid]--;
            if (_admitted == 0 && _peak >= StormConnections)
            {
                (storm, _peak) = (_peak, 0);
            }
        }
        if (storm > 0)
        {
            // The GC keeps the heap a storm grew to; an aggressive collection gives it back.
            long before = Environment.WorkingSet;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            LogStormOver(storm, before >> 20, Environment.WorkingSet >> 20);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken stopping)
    {
        using (socket)
        {
            PeerCredentials peer;
            try
            {
                peer = PeerCredentials.Of(socket);
            }
            catch (SocketException e)
            {
                LogNoCredentials(e.Message);
                return;
            }
            if (Admit(peer.Uid) is { } refused)
            {
                await RefuseAsync(socket, peer, refused, stopping).ConfigureAwait(false);
                return;
            }
            counters.Opened();
            try
            {
                await ServeAdmittedAsync(socket, peer, stopping).ConfigureAwait(false);
            }
            finally
            {
                counters.Closed();
                Release(peer.Uid);
            }
        }
    }

    /// <summary>Answers a connection over a limit once, without reading from it, then closes it.</summary>
    private async Task RefuseAsync(Socket socket, PeerCredentials peer, ProtocolError refused, CancellationToken stopping)
    {
        LogConnectionRefused(peer.Pid, peer.Uid, refused.Message);
        var output = new ArrayBufferWriter<byte>(256);
        handler.Error(output, null, refused);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(s_refusalSend);
            await SendAllAsync(socket, output.WrittenMemory, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }
    }

    private async Task ServeAdmittedAsync(Socket socket, PeerCredentials peer, CancellationToken stopping)
    {
        var framer = new LineFramer(ApiProtocol.MaxLineBytes);
        var output = new ArrayBufferWriter<byte>(256);
        var bucket = new TokenBucket(options.Current.MaxRequestsPerSecond);
        // Closes a connection that sends no complete line for Api:IdleTimeoutSeconds, or does not
        // read its answers for as long: a client holding a descriptor without using it.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        TimeSpan idleTimeout = TimeSpan.FromSeconds(options.Current.IdleTimeoutSeconds);
        idle.CancelAfter(idleTimeout);
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(framer.GetReadBuffer(), SocketFlags.None, idle.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                framer.Advance(n);
                (bool durable, bool complete) = ServeLines(peer, framer, output, bucket);
                if (durable)
                {
                    await store.FlushAsync(stopping).ConfigureAwait(false);
                }
                if (output.WrittenCount > 0)
                {
                    await SendAllAsync(socket, output.WrittenMemory, idle.Token).ConfigureAwait(false);
                    output.ResetWrittenCount();
                }
                if (complete)
                {
                    idle.CancelAfter(idleTimeout);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested)
        {
            LogIdleClosed(peer.Pid, options.Current.IdleTimeoutSeconds);
        }
        catch (SocketException e)
        {
            LogDropped(peer.Pid, e.SocketErrorCode.ToString());
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // The daemon is stopping and took what this connection was using (the store) with it.
        }
        catch (Exception e)
        {
            // A bug, not the client's fault: log it with its trace, close this connection only.
            LogConnectionFailed(e, peer.Pid);
        }
    }

    /// <summary>
    /// Answers every complete line buffered. Durable: one of them must reach the disk before the
    /// answers are sent; complete: there was at least one complete line.
    /// </summary>
    private (bool Durable, bool Complete) ServeLines(PeerCredentials peer, LineFramer framer, ArrayBufferWriter<byte> output, TokenBucket bucket)
    {
        bool durable = false, complete = false;
        while (true)
        {
            LineFramer.FrameKind kind = framer.TryNext(out ReadOnlySpan<byte> line);
            if (kind == LineFramer.FrameKind.None)
            {
                return (durable, complete);
            }
            complete = true;
            if (kind == LineFramer.FrameKind.TooLong)
            {
                counters.Request(null);
                handler.Error(output, null, new ProtocolError(ErrorCode.LineTooLong,
                    $"request line longer than {ApiProtocol.MaxLineBytes} bytes; it was discarded"));
                continue;
            }
            if (line.IsEmpty)
            {
                continue; // blank lines are keep-alives
            }
            if (!RequestParser.TryParse(line, out ApiRequest? request, out ProtocolError? error, out byte[]? id))
            {
                counters.Request(null);
                handler.Error(output, id, error!);
                continue;
            }
            if (_closing.IsCancellationRequested)
            {
                counters.Request(request!.Op);
                handler.Error(output, id, new ProtocolError(ErrorCode.Unavailable, "agentschedd is shutting down; the request was not executed"));
                continue;
            }
            if (!bucket.TryTake())
            {
                counters.Request(request!.Op);
                handler.Error(output, id, new ProtocolError(ErrorCode.RateLimited,
                    $"more than {options.Current.MaxRequestsPerSecond} requests per second on this connection (Api:MaxRequestsPerSecond); the request was not executed"));
                continue;
            }
            durable |= handler.Handle(peer, request!, output);
        }
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "listening on {Path} (mode {Mode}, group {Group})")]
    private partial void LogListening(string path, string mode, string group);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {Group} does not exist: {Path} stays owned by root's group, so only root can use it (create the group: scripts/install does)")]
    private partial void LogNoGroup(string group, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refused a connection whose credentials could not be read: {Reason}")]
    private partial void LogNoCredentials(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "closed the connection from pid {Pid} after an unexpected error")]
    private partial void LogConnectionFailed(Exception e, int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot accept connections: {Reason} ({Open} open); new clients wait until descriptors are released")]
    private partial void LogAcceptFailing(string reason, long open);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "the file descriptor limit is {Limit}, below Api:MaxConnections ({Connections}) + Api:MaxMarks ({Marks}) + 256 = {Needed}: requests may be refused with resource_exhausted before those limits are reached (raise LimitNOFILE, or lower the limits)")]
    private partial void LogFdLimitLow(ulong limit, int connections, int marks, ulong needed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot read or raise the file descriptor limit: {Reason}")]
    private partial void LogFdLimitUnknown(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "the last of {Peak} connections closed: memory returned, RSS {BeforeMb} MB -> {AfterMb} MB")]
    private partial void LogStormOver(int peak, long beforeMb, long afterMb);

    [LoggerMessage(Level = LogLevel.Information, Message = "accepting connections again")]
    private partial void LogAcceptRecovered();

    [LoggerMessage(Level = LogLevel.Debug, Message = "refused a connection from pid {Pid} (uid {Uid}): {Reason}")]
    private partial void LogConnectionRefused(int pid, uint uid, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "closed the connection from pid {Pid}: no complete line for {Seconds} s (Api:IdleTimeoutSeconds)")]
    private partial void LogIdleClosed(int pid, int seconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection from pid {Pid} dropped: {Reason}")]
    private partial void LogDropped(int pid, string reason);
}
