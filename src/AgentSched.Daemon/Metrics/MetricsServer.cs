using System.Net;
using System.Net.Sockets;
using System.Text;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Metrics;

/// <summary>
/// The Prometheus endpoint (off unless Metrics:Listen is set): HTTP/1.1, <c>GET /metrics</c> on
/// a loopback address or a Unix socket, one request per connection. Deliberately small: a scraper
/// needs nothing else, and anything else is refused with a status code.
/// </summary>
internal sealed partial class MetricsServer(
    IOptions<MetricsOptions> options,
    LiveOptions<ApiOptions> api,
    IServiceProvider services,
    ILogger<MetricsServer> logger) : BackgroundService, IHostedLifecycleService
{
    private const int MaxRequestHeadBytes = 8192;
    private const int MaxConcurrentScrapes = 8;
    private static readonly TimeSpan s_exchangeTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _slots = new(MaxConcurrentScrapes);
    private readonly CancellationTokenSource _closing = new();
    private readonly List<Task> _scrapes = [];
    private Socket? _listener;
    private MetricsEndpoint? _endpoint;
    private PrometheusExporter? _exporter;
    private bool _started;

    /// <summary>
    /// Binds before any service starts (after the API socket, registered first), so a busy port or
    /// a bad path stops the daemon before it touches the scheduler.
    /// </summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (!MetricsEndpoint.TryParse(options.Value.Listen, out _endpoint, out string error))
        {
            throw new DaemonStartupException(DaemonExitCode.InvalidConfiguration, error);
        }
        if (_endpoint is not null)
        {
            // Only now: with the endpoint off, the meter and its listener are never created.
            _exporter = services.GetRequiredService<PrometheusExporter>();
            _listener = Bind(_endpoint);
        }
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        _started = true;
        if (_endpoint is not null) LogListening(_endpoint.ToString());
        return Task.CompletedTask;
    }

    public override Task StartAsync(CancellationToken cancellationToken) =>
        _listener is null ? Task.CompletedTask : base.StartAsync(cancellationToken);

    /// <summary>Stops accepting and unlinks the socket before the other services stop; waits for scrapes in flight (5 s at most).</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_listener is null) return;
        await _closing.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        if (_endpoint?.UnixPath is { } path) File.Delete(path);
        Task[] open;
        lock (_scrapes) open = [.. _scrapes];
        try
        {
            await Task.WhenAll(open).WaitAsync(s_exchangeTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>When another service failed to start, the socket bound early is removed here.</summary>
    public override void Dispose()
    {
        if (!_started && _listener is not null)
        {
            _listener.Dispose();
            if (_endpoint?.UnixPath is { } path) File.Delete(path);
        }
        _closing.Dispose();
        base.Dispose();
    }

    private Socket Bind(MetricsEndpoint endpoint)
    {
        if (endpoint.UnixPath is { } unixPath)
        {
            PrepareUnixPath(unixPath, api.Current.SocketPath);
        }
        Socket? listener = null;
        try
        {
            if (endpoint.Tcp is { } ip)
            {
                listener = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(ip);
            }
            else
            {
                string path = endpoint.UnixPath!;
                listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                listener.Bind(new UnixDomainSocketEndPoint(path));
                if (ApiServer.SetAccess(path, api.Current) is { } missing)
                {
                    LogNoGroup(missing, path);
                }
            }
            listener.Listen(64);
            return listener;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener?.Dispose();
            throw new DaemonStartupException(DaemonExitCode.Unexpected, $"cannot listen for metrics on {endpoint}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Makes room for the metrics socket without ever removing something else: the API socket's
    /// path is refused, and an existing file is removed only when it is a socket nobody serves.
    /// </summary>
    private static void PrepareUnixPath(string path, string apiSocketPath)
    {
        if (Path.GetFullPath(path) == Path.GetFullPath(apiSocketPath))
        {
            throw new DaemonStartupException(DaemonExitCode.InvalidConfiguration, $"Metrics:Listen: {path} is the API socket (Api:SocketPath); give the metrics socket a path of its own");
        }
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (Directory.Exists(path))
            {
                throw new DaemonStartupException(DaemonExitCode.InvalidConfiguration, $"Metrics:Listen: {path} is a directory");
            }
            if (!File.Exists(path))
            {
                return;
            }
            if (!FileKind.IsSocket(path))
            {
                throw new DaemonStartupException(DaemonExitCode.InvalidConfiguration, $"Metrics:Listen: {path} exists and is not a socket; refusing to replace it");
            }
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (SocketException)
            {
                File.Delete(path); // a socket left by a daemon that died
                return;
            }
            throw new DaemonStartupException(DaemonExitCode.Unexpected, $"Metrics:Listen: something already serves {path}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException(DaemonExitCode.Unexpected, $"cannot prepare the metrics socket {path}: {e.Message}", e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _closing.Token);
        CancellationToken token = linked.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE and the like: say so, and do not spin while it lasts.
                LogAcceptFailed(e.Message);
                await Task.Delay(100, token).ConfigureAwait(false);
                continue;
            }
            if (!_slots.Wait(0))
            {
                client.Dispose(); // more scrapers at once than anyone needs: drop, they retry
                continue;
            }
            Task scrape = ServeAsync(client, token);
            lock (_scrapes) _scrapes.Add(scrape);
            _ = scrape.ContinueWith(t =>
            {
                lock (_scrapes) _scrapes.Remove(t);
                client.Dispose();
                _slots.Release();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(s_exchangeTimeout);
        string? head = null;
        try
        {
            head = await ReadHeadAsync(client, timeout.Token).ConfigureAwait(false);
            (int status, string reason, string body, string? extra) = Route(head);
            await RespondAsync(client, status, reason, body, extra, head?.StartsWith("HEAD ", StringComparison.Ordinal) ?? false, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            // a slow or vanished scraper: nothing to answer
        }
        catch (Exception e)
        {
            // A metric callback failed: say so in the log and to the scraper, and keep serving.
            LogScrapeFailed(e);
            try
            {
                await RespondAsync(client, 500, "Internal Server Error", "collecting the metrics failed; see agentschedd's log\n", null, false, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception again) when (again is OperationCanceledException or SocketException or IOException)
            {
            }
        }
    }

    /// <summary>The status line and body for a request head (null: malformed or too long).</summary>
    internal (int Status, string Reason, string Body, string? ExtraHeader) Route(string? head)
    {
        string[] requestLine = head?.Split("\r\n", 2)[0].Split(' ') ?? [];
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return (400, "Bad Request", "bad request\n", null);
        }
        if (requestLine[0] is not ("GET" or "HEAD"))
        {
            return (405, "Method Not Allowed", "only GET and HEAD\n", "Allow: GET, HEAD");
        }
        string path = requestLine[1].Split('?', 2)[0];
        return path == "/metrics"
            ? (200, "OK", _exporter!.Scrape(), null)
            : (404, "Not Found", "agentschedd serves /metrics only\n", null);
    }

    private static async Task<string?> ReadHeadAsync(Socket client, CancellationToken token)
    {
        var buffer = new byte[MaxRequestHeadBytes];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
            {
                return null;
            }
            length += n;
            int end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Encoding.ASCII.GetString(buffer, 0, end);
            }
        }
        return null;
    }

    private static async Task RespondAsync(Socket client, int status, string reason, string body, string? extraHeader, bool headOnly, CancellationToken token)
    {
        byte[] content = Encoding.UTF8.GetBytes(body);
        string contentType = status == 200 ? PrometheusExporter.ContentType : "text/plain; charset=utf-8";
        var head = new StringBuilder()
            .Append("HTTP/1.1 ").Append(status).Append(' ').Append(reason).Append("\r\n")
            .Append("Content-Type: ").Append(contentType).Append("\r\n")
            .Append("Content-Length: ").Append(content.Length).Append("\r\n")
            .Append("Connection: close\r\n");
        if (extraHeader is not null) head.Append(extraHeader).Append("\r\n");
        head.Append("\r\n");
        await client.SendAsync(Encoding.ASCII.GetBytes(head.ToString()), SocketFlags.None, token).ConfigureAwait(false);
        if (!headOnly)
        {
            await client.SendAsync(content, SocketFlags.None, token).ConfigureAwait(false);
        }
        client.Shutdown(SocketShutdown.Send);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "serving Prometheus metrics on {Endpoint}")]
    private partial void LogListening(string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {Group} does not exist: {Path} stays root's")]
    private partial void LogNoGroup(string group, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "accepting a metrics connection failed: {Message}")]
    private partial void LogAcceptFailed(string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "a metrics scrape failed")]
    private partial void LogScrapeFailed(Exception exception);
}
