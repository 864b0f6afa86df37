"""daemonapi — one persistent connection to agentschedd for the bench scripts that run in the VM
(docs/protocol.md: a JSON object per line each way)."""
import json
import socket


class Api:
    """Calling it sends one request (a dict; "v": 1 is added when missing) and returns the answer."""

    def __init__(self, path, timeout=None):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.answers = self.sock.makefile("rb")

    def __call__(self, request):
        self.sock.sendall(json.dumps({"v": 1, **request}).encode() + b"\n")
        line = self.answers.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError("the daemon closed the connection")
        return json.loads(line)

    def close(self):
        self.answers.close()
        self.sock.close()
