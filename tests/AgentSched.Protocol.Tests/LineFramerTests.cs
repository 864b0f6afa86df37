using System.Text;

namespace AgentSched.Protocol.Tests;

public sealed class LineFramerTests
{
    /// <summary>Feeds <paramref name="input"/> in chunks of <paramref name="chunk"/> bytes and collects what comes out.</summary>
    private static List<string> Frame(string input, int chunk, int maxLine = 16)
    {
        var framer = new LineFramer(maxLine);
        byte[] bytes = Encoding.UTF8.GetBytes(input);
        var frames = new List<string>();
        for (int offset = 0; offset < bytes.Length;)
        {
            Memory<byte> buffer = framer.GetReadBuffer();
            Assert.False(buffer.IsEmpty, "the framer must always have room after its lines were taken");
            int n = Math.Min(Math.Min(chunk, buffer.Length), bytes.Length - offset);
            bytes.AsSpan(offset, n).CopyTo(buffer.Span);
            framer.Advance(n);
            offset += n;
            while (true)
            {
                LineFramer.FrameKind kind = framer.TryNext(out ReadOnlySpan<byte> line);
                if (kind == LineFramer.FrameKind.None) break;
                frames.Add(kind == LineFramer.FrameKind.TooLong ? "<too long>" : Encoding.UTF8.GetString(line));
            }
        }
        return frames;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void LinesComeOutWholeWhateverTheChunking(int chunk)
    {
        Assert.Equal(["a", "bc", "", "def\t"], Frame("a\nbc\r\n\ndef\t\npartial", chunk));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(100)]
    public void ALineOverTheLimitIsReportedOnceAndTheNextLineSurvives(int chunk)
    {
        string longLine = new('x', 40);
        Assert.Equal(["ok", "<too long>", "after", "<too long>", "end"],
            Frame($"ok\n{longLine}\nafter\n{new string('y', 17)}\nend\n", chunk));
    }

    [Fact]
    public void ALineOfExactlyTheLimitIsAccepted()
    {
        Assert.Equal([new string('z', 16)], Frame(new string('z', 16) + "\n", 7));
    }
}
