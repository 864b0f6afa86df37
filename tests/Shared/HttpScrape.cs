using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AgentSched.Tests;

/// <summary>A raw HTTP/1.1 request over a Unix or TCP socket, read to the end (the server closes).</summary>
internal static class HttpScrape
{
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

    public static Task<Response> GetAsync(string unixPath, string target = "/metrics", string method = "GET") =>
        SendAsync(new UnixDomainSocketEndPoint(unixPath), $"{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");

    public static Task<Response> GetAsync(IPEndPoint tcp, string target = "/metrics", string method = "GET") =>
        SendAsync(tcp, $"{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");

    public static async Task<Response> SendAsync(EndPoint endpoint, string request)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, endpoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        using var all = new MemoryStream();
        var buffer = new byte[65536];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            all.Write(buffer, 0, n);
        }
        string text = Encoding.UTF8.GetString(all.ToArray());
        int split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string[] head = text[..split].Split("\r\n");
        var headers = head.Skip(1).Select(h => h.Split(": ", 2)).ToDictionary(h => h[0], h => h[1], StringComparer.OrdinalIgnoreCase);
        return new Response(int.Parse(head[0].Split(' ')[1]), headers, text[(split + 4)..]);
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
