namespace AgentSched.Protocol;

/// <summary>
/// Splits a byte stream into request lines of at most <see cref="ApiProtocol.MaxLineBytes"/>.
/// A longer line is reported once as <see cref="FrameKind.TooLong"/> and the rest of it, up to its
/// newline, is skipped without being buffered, so a client cannot make the daemon hold more than
/// one line's worth of memory.
/// </summary>
public sealed class LineFramer
{
    /// <summary>The buffer a framer starts with (it grows, by doubling, up to one whole line): requests are far shorter, and an idle connection should cost little.</summary>
    private const int InitialBytes = 512;

    private readonly int _maxLine;
    private byte[] _buffer;
    private int _start, _end;
    private bool _skipping;

    /// <summary>A framer for lines of up to <paramref name="maxLine"/> bytes.</summary>
    public LineFramer(int maxLine = ApiProtocol.MaxLineBytes)
    {
        _maxLine = maxLine;
        _buffer = new byte[Math.Min(maxLine + 1, InitialBytes)];
    }

    /// <summary>What <see cref="TryNext"/> found.</summary>
    public enum FrameKind
    {
        /// <summary>No complete line is buffered; read more.</summary>
        None,

        /// <summary>A complete line (newline and a trailing CR removed).</summary>
        Line,

        /// <summary>A line exceeded the limit; it is being discarded.</summary>
        TooLong,
    }

    /// <summary>Space to read into; call <see cref="Advance"/> with the byte count read.</summary>
    public Memory<byte> GetReadBuffer()
    {
        if (_start > 0 && _start == _end)
        {
            _start = _end = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, _maxLine + 1));
            }
        }
        return _buffer.AsMemory(_end);
    }

    /// <summary>Records <paramref name="count"/> bytes read into the buffer from <see cref="GetReadBuffer"/>.</summary>
    public void Advance(int count) => _end += count;

    /// <summary>Bytes buffered after the last complete line (a partial line at end of stream).</summary>
    public int Pending => _end - _start;

    /// <summary>Takes the next complete line, valid until the next call on this framer.</summary>
    public FrameKind TryNext(out ReadOnlySpan<byte> line)
    {
        line = default;
        while (true)
        {
            ReadOnlySpan<byte> data = _buffer.AsSpan(_start, _end - _start);
            int nl = data.IndexOf((byte)'\n');
            if (_skipping)
            {
                if (nl < 0)
                {
                    _start = _end = 0;
                    return FrameKind.None;
                }
                _start += nl + 1;
                _skipping = false;
                continue;
            }
            if (nl < 0)
            {
                if (data.Length > _maxLine)
                {
                    _skipping = true;
                    _start = _end = 0;
                    return FrameKind.TooLong;
                }
                return FrameKind.None;
            }
            if (nl > _maxLine)
            {
                _start += nl + 1;
                return FrameKind.TooLong;
            }
            line = data[..nl];
            if (line.Length > 0 && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }
            _start += nl + 1;
            return FrameKind.Line;
        }
    }
}
