"""Fault injection, rate limiting and the request log.

These are the fake's "knobs": nothing here models Coder data, it only decides whether
a request is delayed, answered with an error, dropped, or rate limited, and records
what happened so tests can assert on traffic.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

FaultKind = Literal["latency", "error", "ratelimit", "drop"]
_KINDS = ("latency", "error", "ratelimit", "drop")

#: Query/form names whose values never appear in the request log.
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "client_secret",
        "code",
        "code_verifier",
        "coder_session_token",
        "password",
        "refresh_token",
        "token",
        "state",
    }
)


@dataclass
class Fault:
    """One injected fault.

    Attributes:
        kind: ``"latency"`` (sleep ``delay`` seconds, then answer normally), ``"error"``
            (answer ``status``, default 500, with a ``codersdk.Response`` body), ``"ratelimit"``
            (429 with ``Retry-After: retry_after``) or ``"drop"`` (close the socket without
            sending any response).
        path: regular expression matched (``re.search``) against the request path.
            ``"^/api/v2/workspaces$"`` matches only the listing; ``""`` matches everything.
        method: HTTP method, or ``"*"`` for any.
        count: how many matching requests are affected; ``None`` means unlimited.
        probability: chance that a matching request is affected (after ``count`` is checked).
    """

    kind: FaultKind
    path: str = ""
    method: str = "*"
    count: int | None = None
    probability: float = 1.0
    delay: float = 0.0
    status: int = 500
    retry_after: int = 1
    id: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"fault kind must be one of {_KINDS}, not {self.kind!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        re.compile(self.path)
        self.method = self.method.upper()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Thread-safe list of :class:`Fault` rules, first match wins."""

    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = 0
        self._random = random.Random(seed)  # noqa: S311 - not for security

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._ids += 1
            fault.id = self._ids
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def match(self, method: str, path: str) -> Fault | None:
        """Return the fault to apply to this request (consuming one of its ``count``), if any."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in ("*", method) or not re.search(fault.path, path):
                    continue
                if fault.count is not None and fault.hits >= fault.count:
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                fault.hits += 1
                return fault
        return None


class RateLimiter:
    """Fixed one-minute windows counted per (bucket, client, endpoint), on the fake clock.

    ``limit=None`` disables the limiter.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._windows: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, client: str, endpoint: str, now: float) -> tuple[bool, int, int]:
        """Count a request. Returns ``(allowed, remaining, seconds_until_reset)``."""
        if self.limit is None:
            return True, 0, 0
        window = int(now // 60)
        key = (bucket, client, endpoint)
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._windows[key] = (start, count)
        reset = max(1, int((window + 1) * 60 - now + 0.999))
        return count <= self.limit, max(0, self.limit - count), reset


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake answered (or dropped: ``status == 0``).

    ``query`` has secret values (codes, tokens, passwords, state) replaced by ``"***"``.
    ``route`` is the route template that handled it, e.g. ``/api/v2/workspaces/{id}``.
    """

    method: str
    path: str
    query: str
    route: str
    status: int
    fault: str | None = None
    time: float = 0.0


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if k in SECRET_PARAMS and v else v) for k, v in pairs])


@dataclass
class RequestLog:
    records: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: RequestRecord) -> None:
        with self.lock:
            self.records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self.lock:
            return list(self.records)

    def clear(self) -> None:
        with self.lock:
            self.records.clear()

    def counts(self) -> Counter[tuple[str, str]]:
        """Number of requests per ``(method, route)``."""
        with self.lock:
            return Counter((r.method, r.route) for r in self.records)
