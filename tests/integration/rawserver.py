"""A tiny raw-socket HTTP server on 127.0.0.1 for fault shapes the fake cannot produce: trickled
headers or bodies, endless bodies, hand-written answers. Each connection runs ``handler(conn,
request_head)`` in its own thread; ``heads`` records every request head received."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket, bytes], None]


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.heads: list[bytes] = []
        self.sent = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            conn.settimeout(10)
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                self.heads.append(head)
                self.handler(conn, head)

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def stopped(self, timeout: float) -> bool:
        """Wait until the server is stopped (or ``timeout``); used to pace trickling handlers."""
        return self._stop.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for thread in self._threads:
            thread.join(5)


@contextlib.contextmanager
def raw_server(handler: Handler) -> Iterator[RawServer]:
    server = RawServer(handler)
    try:
        yield server
    finally:
        server.close()


def answer(status: str, body: bytes, *, content_type: str = "application/json",
           extra: str = "") -> bytes:
    """A whole HTTP/1.1 answer with ``Content-Length``."""
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode() + body
