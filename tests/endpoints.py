"""Two tiny endpoints that are not AWS, for the tests of what a lying or silent endpoint does.

- `NonsenseEndpoint` answers every request HTTP 200 with the same body (`{}` by default): a
  reply that parses but holds nothing the API promises.
- `SilentEndpoint` accepts connections and reads requests but never answers; with `trickle`
  it sends a reply one byte at a time (one every `trickle` seconds) and counts the bytes it
  got out before the client hung up.

Both listen on a free loopback port; point AWS_ENDPOINT_URL at `.url`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class NonsenseEndpoint:
    """HTTP 200 with `body` to every request; `.requests` counts them."""

    def __init__(self, body: bytes = b"{}") -> None:
        self.body = body
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                endpoint.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> NonsenseEndpoint:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentEndpoint:
    """Accepts, reads, never answers (or trickles a reply, one byte every `trickle` s)."""

    # A reply long enough that a trickle of it outlasts any deadline in the tests.
    REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n" + (
        b"Content-Length: 2\r\n" + b"X-Padding: " + b"x" * 400 + b"\r\n\r\n{}"
    )

    def __init__(self, *, trickle: float | None = None) -> None:
        self.trickle = trickle
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self.sent: list[int] = []  # per trickled reply: bytes sent before the client left
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.connections.append(connection)
            if self.trickle is not None:
                threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        sent = 0
        with contextlib.suppress(OSError):
            connection.recv(65536)
            for byte in self.REPLY:
                if self.closed.wait(self.trickle or 0):
                    break
                connection.send(bytes([byte]))
                sent += 1
        with self.lock:
            self.sent.append(sent)

    def __enter__(self) -> SilentEndpoint:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.closed.set()
        self.listener.close()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.close()
