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
            conn.settimeout(10)
            with contextlib.suppress(OSError):
                head = read_head(conn)
                if head:
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


def read_head(conn: socket.socket) -> bytes:
    """The next request head on ``conn`` (up to the blank line), or ``b""`` if it closes first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        head += chunk
    return head


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


class TrickleProxy(RawServer):
    """Forwards every request to ``target`` and answers with the target's response, its URLs
    rewritten to the proxy's; once :meth:`arm` ed, answers to paths matching its pattern are sent
    one byte every 50 ms (headers first, then the body) until the client gives up."""

    def __init__(self, target: str) -> None:
        import re

        self._target, self._trickle = target.rstrip("/"), re.compile(r"(?!)")
        self.forwarded: list[str] = []
        super().__init__(self._proxy)

    def arm(self, trickle: str) -> None:
        """Trickle the answers to paths matching ``trickle`` from now on; forget what was forwarded."""
        import re

        self._trickle, self.forwarded = re.compile(trickle), []

    def _proxy(self, conn: socket.socket, head: bytes) -> None:
        import httpx

        head_part, _, rest = head.partition(b"\r\n\r\n")
        lines = head_part.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if ": " in line]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        while len(rest) < length:
            rest += conn.recv(65536)
        send = [(k, v.replace(self.url, self._target)) for k, v in headers
                if k.lower() not in ("host", "content-length", "connection", "accept-encoding")]
        self.forwarded.append(f"{method} {path}")
        with httpx.Client() as client:
            upstream = client.request(method, self._target + path, headers=send, content=rest)
        body = upstream.content.replace(self._target.encode(), self.url.encode())
        out = f"HTTP/1.1 {upstream.status_code} {upstream.reason_phrase}\r\n"
        for k, v in upstream.headers.multi_items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                out += f"{k}: {v.replace(self._target, self.url)}\r\n"
        data = f"{out}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        if not self._trickle.search(path.split("?")[0]):
            conn.sendall(data)
            return
        for i in range(len(data)):
            if self.stopped(0.05):
                return
            conn.sendall(data[i:i + 1])
