using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace AgentSched.Tests;

/// <summary>A raw protocol client for tests: sends lines, reads response lines, nothing else.</summary>
internal sealed class ApiConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private ApiConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<ApiConnection> OpenAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return new ApiConnection(socket);
    }

    /// <summary>Opens a connection to <paramref name="socketPath"/>, makes one call on it and closes it.</summary>
    public static async Task<JsonElement> CallOnceAsync(string socketPath, string line, TimeSpan? timeout = null)
    {
        using ApiConnection c = await OpenAsync(socketPath);
        return await c.CallAsync(line, timeout);
    }

    /// <summary>Sends raw bytes (which may hold several lines, or none).</summary>
    public async Task SendRawAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    public Task<string> ReadLineAsync() => ReadLineAsync(TimeSpan.FromSeconds(30));

    public async Task<string> ReadLineAsync(TimeSpan timeout) =>
        await _reader.ReadLineAsync().WaitAsync(timeout) ?? throw new EndOfStreamException("the daemon closed the connection");

    /// <summary>Sends one line and parses the response (waiting up to 30 s, or <paramref name="timeout"/>).</summary>
    public async Task<JsonElement> CallAsync(string line, TimeSpan? timeout = null)
    {
        await SendRawAsync(line + "\n");
        return JsonDocument.Parse(await ReadLineAsync(timeout ?? TimeSpan.FromSeconds(30))).RootElement.Clone();
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
    }
}
