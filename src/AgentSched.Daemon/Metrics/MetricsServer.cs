using System.Net;
using System.Net.Sockets;
using System.Text;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
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
    PrometheusExporter exporter,
    ILogger<MetricsServer> logger) : BackgroundService
{
    private const int MaxRequestHeadBytes = 8192;
    private const int MaxConcurrentScrapes = 8;
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _slots = new(MaxConcurrentScrapes);
    private Socket? _listener;
    private MetricsEndpoint? _endpoint;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (!MetricsEndpoint.TryParse(options.Value.Listen, out _endpoint, out string error))
        {
            throw new DaemonStartupException(DaemonExitCode.InvalidConfiguration, error);
        }
        if (_endpoint is null)
        {
            return Task.CompletedTask; // off
        }
        _listener = Bind(_endpoint);
        LogListening(_endpoint.ToString());
        return base.StartAsync(cancellationToken);
    }

    private Socket Bind(MetricsEndpoint endpoint)
    {
        Socket listener;
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
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.Delete(path); // a socket left by a daemon that died (ApiServer already ensured no other daemon runs)
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
            throw new DaemonStartupException(DaemonExitCode.Unexpected, $"cannot listen for metrics on {endpoint}: {e.Message}", e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                LogAcceptFailed(e.Message);
                continue;
            }
            if (!_slots.Wait(0))
            {
                client.Dispose(); // more scrapers at once than anyone needs: drop, they retry
                continue;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(client, stoppingToken).ConfigureAwait(false);
                }
                finally
                {
                    client.Dispose();
                    _slots.Release();
                }
            }, CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(s_requestTimeout);
        try
        {
            string? head = await ReadHeadAsync(client, timeout.Token).ConfigureAwait(false);
            (int status, string reason, string body, string? extra) = Route(head);
            await RespondAsync(client, status, reason, body, extra, head?.StartsWith("HEAD ", StringComparison.Ordinal) ?? false, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            // a slow or vanished scraper: nothing to answer
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
            ? (200, "OK", exporter.Scrape(), null)
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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener?.Dispose();
        if (_endpoint?.UnixPath is { } path) File.Delete(path);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "serving Prometheus metrics on {Endpoint}")]
    private partial void LogListening(string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {Group} does not exist: {Path} stays root's")]
    private partial void LogNoGroup(string group, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "accepting a metrics connection failed: {Message}")]
    private partial void LogAcceptFailed(string message);
}
