namespace AgentSched.Protocol;

/// <summary>An error response's <c>code</c> (one of <see cref="ErrorCode"/>) and human-readable <c>message</c>.</summary>
public sealed record ProtocolError(string Code, string Message);
