"""How much a deployment may send and for how long: the response size cap and the request deadline.

Every request :func:`coder_jupyter._transport.drive` / ``adrive`` sends is bounded twice:

* **Size**: the body is streamed and reading stops at ``max_response_bytes`` (decoded bytes, so a
  compressed bomb is caught too); a larger ``Content-Length`` is refused before reading.
  Default 64 MiB (``CODER_JUPYTER_MAX_RESPONSE_BYTES``, ``c.CoderConfig.max_response_bytes``):
  a page of 250 workspaces is about 0.8 MB, a listing of 10 000 in one answer about 32 MB.
* **Time**: connect, headers and the whole body must finish within ``deadline`` seconds.
  Default 120 s (``CODER_JUPYTER_REQUEST_DEADLINE``, ``c.CoderConfig.request_deadline``). The
  per-read ``timeout`` alone lets a server trickling a byte every few seconds hold a call forever.

The limits travel with the httpx client (:func:`attach`, done by ``make_client``), so every call
site gets them without passing them along.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import ConfigurationError, DeadlineExceededError, ResponseTooLargeError

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Limits",
    "Watchdog",
    "aread_capped",
    "attach",
    "client_sockets",
    "deadline_error",
    "default_limits",
    "limits_of",
    "read_capped",
]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEFAULT_DEADLINE = 120.0

MAX_BYTES_ENV = "CODER_JUPYTER_MAX_RESPONSE_BYTES"
DEADLINE_ENV = "CODER_JUPYTER_REQUEST_DEADLINE"


@dataclass(frozen=True)
class Limits:
    """The bounds of one request.

    Attributes:
        max_response_bytes: the largest body read, in bytes (decoded).
        deadline: seconds one request may take from sending to the last body byte.
    """

    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    deadline: float = DEFAULT_DEADLINE


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a positive number, not {raw!r}.") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive number, not {raw!r}.")
    return value


def default_max_response_bytes() -> int:
    """``CODER_JUPYTER_MAX_RESPONSE_BYTES`` or 64 MiB."""
    return int(_number(MAX_BYTES_ENV, DEFAULT_MAX_RESPONSE_BYTES))


def default_deadline() -> float:
    """``CODER_JUPYTER_REQUEST_DEADLINE`` or 120 s."""
    return _number(DEADLINE_ENV, DEFAULT_DEADLINE)


def default_limits() -> Limits:
    """The limits from the environment (or the defaults)."""
    return Limits(default_max_response_bytes(), default_deadline())


_attached: weakref.WeakKeyDictionary[Any, Limits] = weakref.WeakKeyDictionary()


def attach(client: httpx.Client | httpx.AsyncClient, limits: Limits) -> None:
    """Bound every request ``drive``/``adrive`` sends through ``client`` by ``limits``."""
    _attached[client] = limits


def limits_of(client: httpx.Client | httpx.AsyncClient) -> Limits:
    """The limits attached to ``client``, else those of the environment."""
    return _attached.get(client) or default_limits()


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _too_large(request: httpx.Request, limit: int, url: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{request.method} {url} sent more than {_mib(limit)}, the response size cap; reading stopped "
        f"there. If the answer is legitimate, raise the cap with {MAX_BYTES_ENV} or "
        "c.CoderConfig.max_response_bytes.",
        url=url, limit=limit,
    )


def deadline_error(request: httpx.Request, limit: float, url: str) -> DeadlineExceededError:
    """The error for a request that outlived its deadline."""
    return DeadlineExceededError(
        f"{request.method} {url} did not finish within {limit:g} s, the per-request deadline (the "
        "server answered too slowly). Try again; if the deployment is just slow, raise the deadline "
        f"with {DEADLINE_ENV} or c.CoderConfig.request_deadline.",
        url=url, limit=limit,
    )


def _declared_too_large(response: httpx.Response, limit: int) -> bool:
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit


def read_capped(response: httpx.Response, limits: Limits, *, url: str,
                expired: Callable[[], bool]) -> None:
    """Read a streamed ``response`` into ``response.content``, at most ``max_response_bytes``.

    Raises:
        ResponseTooLargeError: the body (declared or read) exceeds the cap (the response is closed).
        DeadlineExceededError: ``expired()`` turned true while reading.
    """
    limit = limits.max_response_bytes
    try:
        if _declared_too_large(response, limit):
            raise _too_large(response.request, limit, url)
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(response.request, limit, url)
            if expired():
                raise deadline_error(response.request, limits.deadline, url)
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(chunks)  # what httpx's own read() stores


async def aread_capped(response: httpx.Response, limits: Limits, *, url: str,
                       expired: Callable[[], bool]) -> None:
    """Async twin of :func:`read_capped`."""
    limit = limits.max_response_bytes
    try:
        if _declared_too_large(response, limit):
            raise _too_large(response.request, limit, url)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(response.request, limit, url)
            if expired():
                raise deadline_error(response.request, limits.deadline, url)
            chunks.append(chunk)
    finally:
        await response.aclose()
    response._content = b"".join(chunks)


class _Deadlines:
    """One daemon thread for every request's deadline (a heap), instead of a timer thread each."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, when: float, watchdog: Watchdog) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="coder-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is watchdog:  # an earlier wake-up is needed
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, watchdog = heapq.heappop(self._heap)
                    if not watchdog.done:
                        watchdog.fire()
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_deadlines = _Deadlines()


#: Every socket each sync client opened, so a watchdog can end a request on a reused connection.
_client_sockets: weakref.WeakKeyDictionary[Any, weakref.WeakSet[socket.socket]] = weakref.WeakKeyDictionary()


def client_sockets(client: httpx.Client) -> weakref.WeakSet[socket.socket]:
    """The sockets ``client`` opened so far (closed ones drop out by themselves)."""
    sockets = _client_sockets.get(client)
    if sockets is None:
        sockets = _client_sockets[client] = weakref.WeakSet()
    return sockets


def _snapshot(pool: weakref.WeakSet[socket.socket] | None) -> list[socket.socket]:
    """A copy of ``pool``; another thread may open a connection while it is copied."""
    for _ in range(3):
        with contextlib.suppress(RuntimeError):
            return list(pool or ())
    return []


class Watchdog:
    """Ends a blocking request at its deadline, also while the server trickles its headers.

    A sync read blocks in ``recv``: only shutting the socket down wakes it. The socket is learned
    through httpcore's ``trace`` extension when the connection is opened. A request on a pooled
    connection opened earlier announces no socket (httpcore's trace names none for it), so at its
    deadline it shuts down every socket of its client (``pool``): the one it waits on is among
    them, and other requests of that client caught in the same way fail as transport errors.
    """

    def __init__(self, request: httpx.Request, deadline: float,
                 pool: weakref.WeakSet[socket.socket] | None = None) -> None:
        self._sockets: list[socket.socket] = []
        self._pool = pool
        self.started = time.monotonic()
        self.deadline = deadline
        self.fired = False
        self.done = False
        previous = request.extensions.get("trace")

        def trace(event: str, info: dict[str, Any]) -> None:
            if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                stream = info.get("return_value")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if isinstance(sock, socket.socket):
                    self._sockets.append(sock)
                    if self._pool is not None:
                        self._pool.add(sock)
            if previous is not None:
                previous(event, info)

        request.extensions["trace"] = trace

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.fired or time.monotonic() - self.started > self.deadline

    def __enter__(self) -> Watchdog:
        _deadlines.add(self.started + self.deadline, self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.done = True

    def fire(self) -> None:
        """The deadline passed: shut the request's sockets down (the blocked read fails)."""
        self.fired = True
        for sock in self._sockets or _snapshot(self._pool):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
