"""The fault matrix (issue 13): every network step × every fault shape → the typed error, the
retry policy (idempotent requests only), and the stored credentials untouched.

Faults come from the fake's knobs (500, 429 with Retry-After, dropped connection, latency); the
trickled answer, which the fake cannot produce, from a raw-socket proxy in front of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rawserver import TrickleProxy
from test_login_oauth import consent

from coder_jupyter import Coder
from coder_jupyter._login import AuthManager
from coder_jupyter.client import RetryPolicy
from coder_jupyter.errors import (
    CoderError,
    DeadlineExceededError,
    LoginTimeoutError,
    OAuthError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from coder_jupyter.testing import FakeCoder, fake_coder

REDIRECT = "http://127.0.0.1:9/callback"
FAST = RetryPolicy(base=0.01, cap=0.02, retry_after_cap=2.0)
DEADLINE = 0.5

#: step → (HTTP method, route regex of the faulted request)
ROUTES = {
    "discovery": ("GET", r"^/\.well-known/oauth-authorization-server$"),
    "registration": ("POST", r"^/oauth2/register$"),
    "authorize": ("GET", r"^/oauth2/authorize$"),
    "exchange": ("POST", r"^/oauth2/tokens$"),
    "refresh": ("POST", r"^/oauth2/tokens$"),
    "revoke": ("*", r"^/oauth2/(revoke|tokens)$"),  # RFC 7009, then Coder's DELETE /oauth2/tokens
    "me": ("GET", r"^/api/v2/users/me$"),
    "workspaces": ("GET", r"^/api/v2/workspaces$"),
}
FAULTS = ["500", "429", "drop", "latency", "trickle"]


def expected(step: str, fault: str) -> tuple[type[BaseException], int]:
    """The typed error and how many requests reach the faulted route."""
    if fault in ("latency", "trickle"):
        return DeadlineExceededError, 1  # a deadline is never retried
    if step in ("me", "workspaces"):  # idempotent GETs through the client's RetryPolicy
        return {"500": (ServerError, 1), "429": (RateLimitedError, FAST.attempts),
                "drop": (TransportError, FAST.attempts)}[fault]
    # OAuth requests: sent once (a POST is never repeated; discovery is sent without a policy)
    return (TransportError if fault == "drop" else OAuthError), 1


class World:
    """A fake deployment (behind a trickling proxy for the trickle rows) and a user of it."""

    def __init__(self, fake: FakeCoder, base: str) -> None:
        self.fake, self.base = fake, base
        self.auth = AuthManager(base)

    def login(self) -> None:
        started = self.auth.begin_login(redirect_uri=REDIRECT)
        self.auth.finish_login(consent(self.fake, started.authorization_url))  # the proxy rewrites URLs

    def stored(self) -> dict[str, bytes]:
        path: Path = self.auth.store.path
        return {p.name: p.read_bytes() for p in path.glob("*.json")
                if p.name in ("tokens.json", "registration.json")} if path.is_dir() else {}


def run_step(world: World, step: str) -> Any:
    auth = world.auth
    if step == "discovery":
        return auth.metadata(refresh=True)
    if step == "registration":
        return auth.begin_login(redirect_uri=REDIRECT)
    if step == "authorize":
        with pytest.raises((httpx.HTTPError, AssertionError)):
            consent(world.fake, world._started.authorization_url)  # type: ignore[attr-defined]
        return auth.wait_for_login(timeout=0.2)
    if step == "exchange":
        return auth.finish_login(world._callback)  # type: ignore[attr-defined]
    if step == "refresh":
        auth.credentials.backoff = ()  # only the transport's policy: one request
        tokens = auth.credentials.current()
        assert tokens is not None
        return auth.credentials.refresh(tokens)
    if step == "revoke":
        report = auth.logout()
        assert report.revoked.startswith("failed"), report
        raise OAuthError("revocation failed (reported, not raised)")
    with Coder(world.base, retry=FAST) as coder:
        return coder.me() if step == "me" else coder.workspaces()


def prepare(world: World, step: str) -> None:
    if step in ("refresh", "revoke", "me", "workspaces"):
        world.login()
    if step == "authorize":
        world._started = world.auth.begin_login(redirect_uri=REDIRECT)  # type: ignore[attr-defined]
    if step == "exchange":
        started = world.auth.begin_login(redirect_uri=REDIRECT)
        world._callback = consent(world.fake, started.authorization_url)  # type: ignore[attr-defined]


@pytest.fixture
def fake() -> Iterator[FakeCoder]:
    with fake_coder(oauth2_rate_limit=None, api_rate_limit=None, dcr=True) as f:
        yield f


def _cases() -> list[Any]:
    cases = []
    for step in ROUTES:
        for fault in FAULTS:
            if step == "authorize" and fault in ("latency", "trickle"):
                continue  # only the browser waits for the consent page; nothing of ours runs
            if step == "revoke" and fault == "trickle":
                continue  # revocation falls back to DELETE /oauth2/tokens (covered by 500/drop)
            cases.append(pytest.param(step, fault, id=f"{step}-{fault}"))
    return cases


@pytest.mark.parametrize(("step", "fault"), _cases())
def test_fault_matrix(fake: FakeCoder, monkeypatch: pytest.MonkeyPatch, step: str, fault: str) -> None:
    method, route = ROUTES[step]
    proxy = TrickleProxy(fake.url) if fault == "trickle" else None
    try:
        world = World(fake, proxy.url if proxy else fake.url)
        prepare(world, step)
        before = world.stored()
        if fault in ("latency", "trickle"):
            # a short deadline for the faulted step only (setting up on a busy machine may be slow)
            monkeypatch.setenv("CODER_JUPYTER_REQUEST_DEADLINE", str(DEADLINE))
            world.auth = AuthManager(world.base)
        fake.clear_requests()
        kinds = {"500": "error", "429": "ratelimit", "drop": "drop", "latency": "latency"}
        fault_rule = None
        if proxy is not None:
            proxy.arm(route)
        if fault in kinds:
            fault_rule = fake.add_fault(kinds[fault], route, method, status=500, retry_after=0,
                                        delay=DEADLINE * 3)

        error, requests = expected(step, fault)
        if step == "authorize":
            error, requests = LoginTimeoutError, 1
        if step == "revoke":
            error = OAuthError  # logout reports the failure instead of raising
        with pytest.raises(CoderError) as caught:
            run_step(world, step)

        assert isinstance(caught.value, error), repr(caught.value)
        if step != "revoke":
            assert world.stored() == before  # nothing lost, nothing half-written
        if fault_rule is not None:
            sent = fault_rule.hits  # requests that reached the faulted route
        else:
            assert proxy is not None
            sent = sum(1 for f in proxy.forwarded if re.search(route, f.split()[1].split("?")[0]))
        assert sent == (2 if step == "revoke" else requests), (sent, requests)
    finally:
        if proxy is not None:
            proxy.close()
