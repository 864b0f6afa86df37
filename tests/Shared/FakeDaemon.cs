using System.Net.Sockets;
using System.Text;

namespace AgentSched.Tests;

/// <summary>
/// A stand-in for agentschedd on a Unix socket that answers every request line with a fixed
/// response after a delay: for clients facing a slow, hung or misbehaving daemon. Or, given a
/// function, with the response it makes of each request line: a scripted daemon.
/// </summary>
internal sealed class FakeDaemon : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _lines = [];

    public FakeDaemon(string response, TimeSpan delay, int backlog = 16, bool accept = true)
        : this(_ => response, delay, backlog, accept)
    {
    }

    /// <summary>Answers each request line with <paramref name="respond"/>'s response to it.</summary>
    public FakeDaemon(Func<string, string> respond, TimeSpan delay = default, int backlog = 16, bool accept = true)
    {
        SocketPath = Path.Combine(DaemonProcess.NewDirectory(), "fake.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(backlog);
        if (accept)
        {
            _ = Task.Run(() => AcceptLoop(respond, delay));
        }
    }

    public string SocketPath { get; }

    private int _requests;

    /// <summary>Request lines received so far, over all connections.</summary>
    public int Requests => Volatile.Read(ref _requests);

    private int _connections;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The request lines received so far, over all connections, in the order they arrived.</summary>
    public IReadOnlyList<string> RequestLines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    private async Task AcceptLoop(Func<string, string> respond, TimeSpan delay)
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                _ = Task.Run(() => Serve(client, respond, delay));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task Serve(Socket client, Func<string, string> respond, TimeSpan delay)
    {
        using (client)
        using (var stream = new NetworkStream(client))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            try
            {
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    lock (_lines) _lines.Add(line);
                    Interlocked.Increment(ref _requests);
                    string response = respond(line);
                    await Task.Delay(delay, _stop.Token);
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(response + "\n"), _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
