using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentSched.Client;

/// <summary>
/// A client of agentschedd (docs/client.md) over one persistent Unix-socket connection.
/// </summary>
/// <remarks>
/// <para>Thread-safe: calls from many threads share the connection and are answered in turn.</para>
/// <para>When the connection breaks (the daemon restarted) the request is sent once more on a new
/// connection. Every operation is idempotent, so a request the old daemon already carried out is
/// harmless to repeat.</para>
/// <para>When the daemon cannot be reached the client follows
/// <see cref="AgentSchedClientOptions.WhenUnavailable"/>: by default each call is a no-op that says
/// it was not applied, with one warning per outage; the next call tries to connect again.</para>
/// <para>A request the daemon refuses throws <see cref="AgentSchedException"/> with its stable code
/// whatever the setting: that is a bug or a limit to handle, not an absent daemon.</para>
/// </remarks>
public sealed partial class AgentSchedClient : IDisposable, IAsyncDisposable
{
    private const int MaxResponseBytes = 4 * 1024 * 1024;

    private readonly AgentSchedClientOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Socket? _socket;
    private byte[] _buffer = new byte[8192];
    private int _start;
    private int _end;
    private int _outageWarned;
    private bool _disposed;

    /// <summary>Creates a client; nothing is connected until the first call.</summary>
    public AgentSchedClient(AgentSchedClientOptions? options = null)
    {
        _options = options ?? new AgentSchedClientOptions();
        if (string.IsNullOrEmpty(_options.SocketPath)) throw new ArgumentException("SocketPath is empty", nameof(options));
        if (_options.RequestTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "RequestTimeout must be positive");
    }

    /// <summary>The socket this client talks to.</summary>
    public string SocketPath => _options.SocketPath;

    /// <summary>Whether the daemon answers a <c>ping</c> now. Never throws for an absent daemon, and never warns.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await SendAsync(new ApiRequest(ApiOp.Ping), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AgentSchedUnavailableException)
        {
            return false;
        }
    }

    /// <summary><see cref="PingAsync"/>, blocking.</summary>
    public bool Ping() => Unreachable() is null;

    /// <summary>Gives process <paramref name="pid"/> (all its threads, and children it forks later) a class.</summary>
    /// <param name="pid">A process id (thread-group leader).</param>
    /// <param name="taskClass">The class.</param>
    /// <param name="window">How long the mark lasts (1 ms to 1 h, rounded up to whole ms); null: until <see cref="UnmarkAsync"/>.</param>
    /// <param name="homeCpu">The CPU BURST wakeups prefer; null: learned from where the task runs.</param>
    /// <param name="budget">BURST CPU per step before demotion (100 us to 1 s); null: the scheduler's default.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer (the connection is then dropped).</param>
    /// <exception cref="AgentSchedException">The daemon refused (e.g. <c>no_such_process</c>, <c>permission_denied</c>, <c>limit_exceeded</c>).</exception>
    /// <exception cref="AgentSchedUnavailableException">The daemon is unreachable and <see cref="DaemonUnavailableBehavior.Throw"/> is set.</exception>
    public async Task<MarkResult> MarkAsync(int pid, TaskClass taskClass, TimeSpan? window = null, int? homeCpu = null, TimeSpan? budget = null, CancellationToken cancellationToken = default) =>
        MarkResultOf(pid, await CallAsync(MarkRequest(pid, taskClass, window, homeCpu, budget), cancellationToken).ConfigureAwait(false));

    /// <summary><see cref="MarkAsync"/>, blocking the calling thread (without starting any other) until the daemon answers.</summary>
    /// <inheritdoc cref="MarkAsync" path="/param"/>
    /// <inheritdoc cref="MarkAsync" path="/exception"/>
    public MarkResult Mark(int pid, TaskClass taskClass, TimeSpan? window = null, int? homeCpu = null, TimeSpan? budget = null) =>
        MarkResultOf(pid, Call(MarkRequest(pid, taskClass, window, homeCpu, budget)));

    private static ApiRequest MarkRequest(int pid, TaskClass taskClass, TimeSpan? window, int? homeCpu, TimeSpan? budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pid, 1);
        if (homeCpu is < 0) throw new ArgumentOutOfRangeException(nameof(homeCpu), homeCpu, "home CPU must be 0 or more");
        return new ApiRequest(ApiOp.Mark)
        {
            Pid = pid,
            Class = taskClass,
            WindowMs = WindowMs(window, nameof(window)),
            HomeCpu = homeCpu,
            BudgetUs = BudgetUs(budget),
        };
    }

    private static MarkResult MarkResultOf(int pid, JsonElement? response) =>
        response is { } r ? new MarkResult(true, pid, ClassOf(r, "class"), WindowOf(r)) : new MarkResult(false, pid, null, null);

    /// <summary>Removes a process's mark and restores its scheduling. Unmarking an unmarked process is not an error.</summary>
    /// <exception cref="AgentSchedException">The daemon refused (<c>no_such_process</c>, <c>permission_denied</c>).</exception>
    /// <exception cref="AgentSchedUnavailableException">The daemon is unreachable and <see cref="DaemonUnavailableBehavior.Throw"/> is set.</exception>
    public async Task<UnmarkResult> UnmarkAsync(int pid, CancellationToken cancellationToken = default) =>
        UnmarkResultOf(pid, await CallAsync(UnmarkRequest(pid), cancellationToken).ConfigureAwait(false));

    /// <summary><see cref="UnmarkAsync"/>, blocking.</summary>
    /// <inheritdoc cref="UnmarkAsync" path="/exception"/>
    public UnmarkResult Unmark(int pid) => UnmarkResultOf(pid, Call(UnmarkRequest(pid)));

    private static ApiRequest UnmarkRequest(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pid, 1);
        return new ApiRequest(ApiOp.Unmark) { Pid = pid };
    }

    private static UnmarkResult UnmarkResultOf(int pid, JsonElement? response) =>
        response is { } r ? new UnmarkResult(true, pid, ClassOf(r, "was")) : new UnmarkResult(false, pid, null);

    /// <summary>The daemon's <c>status</c>; null when it is unavailable (with <see cref="DaemonUnavailableBehavior.Ignore"/>).</summary>
    public async Task<DaemonStatus?> StatusAsync(CancellationToken cancellationToken = default) =>
        await CallAsync(new ApiRequest(ApiOp.Status), cancellationToken).ConfigureAwait(false) is { } r ? DaemonStatus.Parse(r) : null;

    /// <summary>The reason the daemon is unreachable now, or null when it answers a ping (never warns).</summary>
    internal string? Unreachable()
    {
        try
        {
            SendCoreAsync(new ApiRequest(ApiOp.Ping), synchronous: true, CancellationToken.None).GetAwaiter().GetResult();
            return null;
        }
        catch (AgentSchedUnavailableException e)
        {
            return e.Reason;
        }
    }

    /// <summary>
    /// The daemon's <c>stats</c> response as JSON (scheduler counters, wait histograms, API counters;
    /// the shape is in docs/protocol.md); null when it is unavailable (with <see cref="DaemonUnavailableBehavior.Ignore"/>).
    /// </summary>
    public Task<JsonElement?> StatsAsync(CancellationToken cancellationToken = default) =>
        CallAsync(new ApiRequest(ApiOp.Stats), cancellationToken);

    /// <summary>
    /// The recent steps agent_class recorded for each thread of <paramref name="pid"/> (<c>steps</c>):
    /// the last 32 per thread, or those of them that ended after <paramref name="afterNs"/>; null
    /// when the daemon is unavailable (with <see cref="DaemonUnavailableBehavior.Ignore"/>).
    /// </summary>
    /// <param name="pid">A process id, or one thread's id for that thread alone.</param>
    /// <param name="afterNs">Only steps that ended after this CLOCK_MONOTONIC time, in ns (compare
    /// <see cref="StepRecord.EndNs"/> and <see cref="TaskStepsReport.NowNs"/>); null: every kept step.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer (the connection is then dropped).</param>
    /// <exception cref="AgentSchedException">The daemon refused: <c>not_tracing</c> (fallback mode, or
    /// Scheduler:TraceSteps off), <c>no_such_process</c>, <c>permission_denied</c>.</exception>
    /// <exception cref="AgentSchedUnavailableException">The daemon is unreachable and <see cref="DaemonUnavailableBehavior.Throw"/> is set.</exception>
    public async Task<TaskStepsReport?> StepsAsync(int pid, long? afterNs = null, CancellationToken cancellationToken = default) =>
        await CallAsync(StepsRequest(pid, afterNs), cancellationToken).ConfigureAwait(false) is { } r ? TaskStepsReport.Parse(r) : null;

    /// <summary><see cref="StepsAsync"/>, blocking.</summary>
    /// <inheritdoc cref="StepsAsync" path="/param"/>
    /// <inheritdoc cref="StepsAsync" path="/exception"/>
    public TaskStepsReport? Steps(int pid, long? afterNs = null) =>
        Call(StepsRequest(pid, afterNs)) is { } r ? TaskStepsReport.Parse(r) : null;

    private static ApiRequest StepsRequest(int pid, long? afterNs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pid, 1);
        if (afterNs is < 0) throw new ArgumentOutOfRangeException(nameof(afterNs), afterNs, "after_ns must be 0 or more");
        return new ApiRequest(ApiOp.Steps) { Pid = pid, AfterNs = afterNs };
    }

    /// <summary>
    /// Opens a step window: the calling process (or only the calling thread) is BURST until the
    /// returned scope is disposed or <paramref name="window"/> runs out, whichever is first.
    /// </summary>
    /// <param name="window">The window's length (1 ms to 1 h); null: the daemon's default (Api:DefaultStepWindowMs, 100 ms).</param>
    /// <param name="currentThreadOnly">Open the window for the calling OS thread only, not the whole process.
    /// Only meaningful for code that stays on one thread until the scope is disposed.</param>
    /// <param name="budget">BURST CPU per step before demotion; null: the scheduler's default.</param>
    /// <exception cref="AgentSchedException">The daemon refused (e.g. <c>limit_exceeded</c>).</exception>
    /// <exception cref="AgentSchedUnavailableException">The daemon is unreachable and <see cref="DaemonUnavailableBehavior.Throw"/> is set.</exception>
    public StepScope BeginStep(TimeSpan? window = null, bool currentThreadOnly = false, TimeSpan? budget = null)
    {
        ApiRequest request = StepRequest(window, currentThreadOnly, budget);
        ValueTask<StepScope?> self = TryBeginSelfStepAsync(request, synchronous: true, CancellationToken.None);
        Debug.Assert(self.IsCompleted);
        return self.GetAwaiter().GetResult() ?? ScopeOf(request.Tid, Call(request));
    }

    /// <inheritdoc cref="BeginStep"/>
    public async Task<StepScope> BeginStepAsync(TimeSpan? window = null, bool currentThreadOnly = false, TimeSpan? budget = null, CancellationToken cancellationToken = default)
    {
        // The tid is read here, before the first await: the continuation may run on another thread.
        ApiRequest request = StepRequest(window, currentThreadOnly, budget);
        return await TryBeginSelfStepAsync(request, synchronous: false, cancellationToken).ConfigureAwait(false)
            ?? ScopeOf(request.Tid, await CallAsync(request, cancellationToken).ConfigureAwait(false));
    }

    private static ApiRequest StepRequest(TimeSpan? window, bool currentThreadOnly, TimeSpan? budget) =>
        new(ApiOp.StepBegin) { Tid = currentThreadOnly ? NativeThread.CurrentTid() : null, WindowMs = WindowMs(window, nameof(window)), BudgetUs = BudgetUs(budget) };

    private StepScope ScopeOf(int? tid, JsonElement? response) =>
        response is { } r ? new StepScope(this, tid, applied: true, WindowOf(r)) : new StepScope(null, tid, applied: false, null);

    /// <summary>Ends a step (<c>step_end</c>); a daemon that went away, or a thread that ended, leaves nothing to end.</summary>
    internal async ValueTask EndStepAsync(int? tid, bool synchronous)
    {
        if (_disposed) return;
        try
        {
            await CallCoreAsync(new ApiRequest(ApiOp.StepEnd) { Tid = tid }, synchronous, CancellationToken.None).ConfigureAwait(false);
        }
        catch (AgentSchedUnavailableException)
        {
            // The daemon went away after the step began: the window ends by itself when it runs out.
        }
        catch (AgentSchedException e) when (e.Code == ErrorCode.NoSuchProcess)
        {
            // The thread ended before its step: nothing is left to end.
        }
    }

    /// <summary>Sends one request; the response object, or null when the daemon is unavailable and that is ignored.</summary>
    private Task<JsonElement?> CallAsync(ApiRequest request, CancellationToken cancellationToken) =>
        CallCoreAsync(request, synchronous: false, cancellationToken).AsTask();

    /// <summary><see cref="CallAsync"/>, blocking.</summary>
    private JsonElement? Call(ApiRequest request)
    {
        ValueTask<JsonElement?> call = CallCoreAsync(request, synchronous: true, CancellationToken.None);
        Debug.Assert(call.IsCompleted);
        return call.GetAwaiter().GetResult();
    }

    private async ValueTask<JsonElement?> CallCoreAsync(ApiRequest request, bool synchronous, CancellationToken cancellationToken)
    {
        try
        {
            JsonElement response = await SendCoreAsync(request, synchronous, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _outageWarned, 0);
            return response;
        }
        catch (AgentSchedUnavailableException e) when (_options.WhenUnavailable == DaemonUnavailableBehavior.Ignore)
        {
            if (Interlocked.Exchange(ref _outageWarned, 1) == 0)
            {
                Warn($"{e.Detail}; continuing without scheduling hints");
            }
            return null;
        }
    }

    private void Warn(string message)
    {
        if (_options.Logger is { } logger)
        {
            LogUnavailable(logger, message);
        }
        else
        {
            Console.Error.WriteLine($"agentsched: {message}");
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogUnavailable(ILogger logger, string message);

    /// <summary>Sends <paramref name="request"/> and reads its answer, reconnecting once; throws on an error response.</summary>
    private Task<JsonElement> SendAsync(ApiRequest request, CancellationToken cancellationToken) =>
        SendCoreAsync(request, synchronous: false, cancellationToken).AsTask();

    /// <summary>
    /// The one implementation behind the async and the blocking calls. With
    /// <paramref name="synchronous"/> every socket call blocks (with the same timeout) and the
    /// returned task has completed: no thread-pool thread or epoll thread is started, which keeps
    /// <c>agentsched run</c>, a process that lives for one request, fast.
    /// </summary>
    private async ValueTask<JsonElement> SendCoreAsync(ApiRequest request, bool synchronous, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var line = new ArrayBufferWriter<byte>(128);
        RequestWriter.Write(line, request);
        // The blocking path keeps time with the deadline alone: a CancelAfter timer would start the timer thread.
        using CancellationTokenSource timeout = synchronous ? new() : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!synchronous) timeout.CancelAfter(_options.RequestTimeout);
        long deadline = Environment.TickCount64 + (long)_options.RequestTimeout.TotalMilliseconds;
        bool entered = false;
        try
        {
            try
            {
                if (synchronous)
                {
                    entered = _gate.Wait(_options.RequestTimeout, cancellationToken);
                }
                else
                {
                    entered = await _gate.WaitAsync(_options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                throw; // cancelled while waiting its turn: the connection is another call's, leave it alone
            }
            if (!entered)
            {
                // Still waiting behind other calls on this client: the daemon is that slow, but the
                // connection belongs to the call in flight and stays as it is.
                throw new AgentSchedUnavailableException(SocketPath, $"no answer within {_options.RequestTimeout.TotalSeconds:0.###} s (this call was still waiting behind others on the same client)");
            }
            for (int attempt = 0; ; attempt++)
            {
                Socket socket = _socket ?? (synchronous ? Connect(deadline) : await ConnectAsync(timeout.Token).ConfigureAwait(false));
                ReadOnlyMemory<byte> response;
                try
                {
                    if (synchronous)
                    {
                        socket.SendTimeout = socket.ReceiveTimeout = Remaining(deadline);
                        socket.Send(line.WrittenSpan);
                        response = ReadLine(socket, deadline);
                    }
                    else
                    {
                        await socket.SendAsync(line.WrittenMemory, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                        response = await ReadLineAsync(socket, timeout.Token).ConfigureAwait(false);
                    }
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
                {
                    throw new OperationCanceledException(timeout.Token);
                }
                catch (Exception e) when (e is SocketException or EndOfStreamException or IOException)
                {
                    DropConnection();
                    if (attempt == 0)
                    {
                        continue; // the daemon restarted or closed an idle connection: once more on a new one
                    }
                    throw new AgentSchedUnavailableException(SocketPath, $"the connection broke ({e.Message})", e);
                }
                return Parse(response.Span);
            }
        }
        catch (OperationCanceledException) when (entered && !cancellationToken.IsCancellationRequested)
        {
            DropConnection(); // the answer may still arrive and would be read as the next one's
            throw new AgentSchedUnavailableException(SocketPath, $"no answer within {_options.RequestTimeout.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException) when (entered)
        {
            DropConnection();
            throw;
        }
        finally
        {
            if (entered) _gate.Release();
        }
    }

    /// <summary>Milliseconds until <paramref name="deadline"/> (Environment.TickCount64), at least 1.</summary>
    private static int Remaining(long deadline) => (int)Math.Clamp(deadline - Environment.TickCount64, 1, int.MaxValue);

    private JsonElement Parse(ReadOnlySpan<byte> line)
    {
        JsonElement r;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(line.ToArray());
            r = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            DropConnection();
            throw new AgentSchedException("bad_response", $"agentschedd sent a line that is not JSON: {e.Message}", e);
        }
        if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("ok", out JsonElement ok) || ok.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new AgentSchedException("bad_response", "agentschedd sent a response without \"ok\"");
        }
        if (ok.GetBoolean())
        {
            return r;
        }
        JsonElement error = r.GetProperty("error");
        string code = error.GetProperty("code").GetString() ?? "internal";
        string message = error.GetProperty("message").GetString() ?? "";
        if (code == ErrorCode.Unavailable)
        {
            DropConnection();
            throw new AgentSchedUnavailableException(SocketPath, $"the daemon is shutting down ({message})");
        }
        throw new AgentSchedException(code, message);
    }

    private Socket Connect(long deadline)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // connect(2) on a Unix socket blocks while the listener's backlog is full (a hung
            // daemon), for at most SO_SNDTIMEO.
            socket.SendTimeout = Remaining(deadline);
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            socket.Dispose();
            throw new AgentSchedUnavailableException(SocketPath, $"no answer within {_options.RequestTimeout.TotalSeconds:0.###} s (the daemon does not accept connections)", e);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new AgentSchedUnavailableException(SocketPath, DescribeConnectError(SocketPath, e), e);
        }
        _socket = socket;
        _start = _end = 0;
        return socket;
    }

    private async Task<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new AgentSchedUnavailableException(SocketPath, DescribeConnectError(SocketPath, e), e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _socket = socket;
        _start = _end = 0;
        return socket;
    }

    /// <summary>Why a connect failed, in words that say what to do.</summary>
    internal static string DescribeConnectError(string path, SocketException e)
    {
        const string Start = "start it with: systemctl start agentsched";
        if (!File.Exists(path))
        {
            return Directory.Exists(Path.GetDirectoryName(path)) || Path.GetDirectoryName(path) is null or ""
                ? $"no such socket (agentschedd is not running; {Start})"
                : $"no such socket, nor its directory (agentschedd is not running or not installed; {Start})";
        }
        return e.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => $"nothing is listening (agentschedd is not running; {Start})",
            SocketError.AccessDenied => "permission denied (join the agentsched group: usermod -aG agentsched $USER, then log in again)",
            _ => e.Message,
        };
    }

    private ReadOnlyMemory<byte> ReadLine(Socket socket, long deadline)
    {
        while (true)
        {
            if (TakeLine() is { } line) return line;
            socket.ReceiveTimeout = Remaining(deadline);
            Received(socket.Receive(_buffer.AsSpan(_end)));
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TakeLine() is { } line) return line;
            Received(await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>The next whole line in the buffer, or null after making room for more bytes at <c>_end</c>.</summary>
    private ReadOnlyMemory<byte>? TakeLine()
    {
        int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
        if (newline >= 0)
        {
            var line = new ReadOnlyMemory<byte>(_buffer, _start, newline - _start);
            _start = newline + 1;
            return line;
        }
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxResponseBytes)
            {
                throw new IOException($"a response longer than {MaxResponseBytes} bytes");
            }
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        return null;
    }

    private void Received(int n)
    {
        if (n == 0)
        {
            throw new EndOfStreamException("agentschedd closed the connection");
        }
        _end += n;
    }

    private void DropConnection()
    {
        _socket?.Dispose();
        _socket = null;
        _start = _end = 0;
    }

    private static int? WindowMs(TimeSpan? window, string name)
    {
        if (window is not { } w) return null;
        double ms = Math.Ceiling(w.TotalMilliseconds);
        if (ms < ApiProtocol.MinWindowMs || ms > ApiProtocol.MaxWindowMs)
        {
            throw new ArgumentOutOfRangeException(name, w, "a window must be 1 ms to 1 h");
        }
        return (int)ms;
    }

    private static int? BudgetUs(TimeSpan? budget)
    {
        if (budget is not { } b) return null;
        double us = Math.Ceiling(b.TotalMicroseconds);
        if (us < ApiProtocol.MinBudgetUs || us > ApiProtocol.MaxBudgetUs)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), b, "a step budget must be 100 us to 1 s");
        }
        return (int)us;
    }

    private static TaskClass? ClassOf(JsonElement r, string name) =>
        r.TryGetProperty(name, out JsonElement v) && TaskClassNames.TryParse(v.GetString(), out TaskClass c) ? c : null;

    private static TimeSpan? WindowOf(JsonElement r) =>
        r.TryGetProperty("window_ms", out JsonElement v) && v.ValueKind == JsonValueKind.Number ? TimeSpan.FromMilliseconds(v.GetDouble()) : null;

    /// <summary>Closes the connection. Open step scopes end by their windows.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _gate.Wait();
        try
        {
            _disposed = true;
            DropConnection();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
