"""Issue 13: hostile servers, broken networks, crashes and forged callbacks lose nothing and leak
nothing. One section per defence; each test fails without its defence."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from clienthelpers import Blocking
from rawserver import RawServer, answer, raw_server, read_head

from coder_jupyter import AsyncCoder, Coder
from coder_jupyter._config import CoderConfig
from coder_jupyter._connection import ConnectionSettings, make_client
from coder_jupyter._engine import finish_login
from coder_jupyter._flows import discover
from coder_jupyter._limits import DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES
from coder_jupyter._login import AuthManager
from coder_jupyter._loopback import LoopbackListener
from coder_jupyter._oauth.metadata import parse_metadata
from coder_jupyter._oauth.models import AuthServerMetadata, PendingLogin, TokenSet
from coder_jupyter._oauth.registration import parse_registration
from coder_jupyter._store import Store
from coder_jupyter._transport import drive
from coder_jupyter.client._api import Api
from coder_jupyter.errors import (
    AccessDeniedError,
    DeadlineExceededError,
    InvalidMetadataError,
    LoginStateError,
    ResponseTooLargeError,
    TransportError,
    UnexpectedResponseError,
)
from coder_jupyter.testing import FakeCoder, fake_coder

# Coder's G4 default has DCR off: these tests play an admin who turned it on.
pytestmark = pytest.mark.coder_fake(dcr=True)

TOKEN = "tok-SECRET-0123456789abcdef"
KINDS = ["sync", "async"]


def open_coder(kind: str, url: str, **config: Any) -> Any:
    cfg = CoderConfig(**config)
    if kind == "sync":
        return Coder(url, token=TOKEN, config=cfg)
    return Blocking(AsyncCoder(url, token=TOKEN, config=cfg))


def close(coder: Any) -> None:
    coder.close()


# ------------------------------------------------------------------ 1. no downgrade to http


def _metadata(base: str, **override: str) -> bytes:
    import json

    doc = {"issuer": base, "authorization_endpoint": f"{base}/oauth2/authorize",
           "token_endpoint": f"{base}/oauth2/tokens", "revocation_endpoint": f"{base}/oauth2/revoke",
           "registration_endpoint": f"{base}/oauth2/register", "response_types_supported": ["code"],
           "grant_types_supported": ["authorization_code", "refresh_token"],
           "code_challenge_methods_supported": ["S256"]}
    doc.update(override)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("field", ["authorization_endpoint", "token_endpoint", "revocation_endpoint",
                                   "registration_endpoint"])
def test_https_deployment_refuses_http_endpoints_naming_the_field(field: str) -> None:
    base = "https://coder.example.com"
    body = _metadata(base, **{field: f"http://coder.example.com/oauth2/{field}"})
    with pytest.raises(InvalidMetadataError) as caught:
        parse_metadata(200, body, deployment_url=base)
    assert caught.value.error == "insecure_endpoint" and repr(field) in str(caught.value)


def test_plain_http_loopback_deployment_stays_usable(coder_fake: FakeCoder) -> None:
    with make_client(ConnectionSettings(url=coder_fake.url)) as client:
        metadata = drive(discover(coder_fake.url), client)
    assert metadata.token_endpoint.startswith("http://127.0.0.1:")


def test_registration_client_uri_over_http_is_refused_for_an_https_deployment() -> None:
    base = "https://coder.example.com"
    metadata = AuthServerMetadata(issuer=base, authorization_endpoint=f"{base}/a", token_endpoint=f"{base}/t")
    body = b'{"client_id": "c", "client_secret": "s", "registration_access_token": "r",' \
           b' "registration_client_uri": "http://coder.example.com/oauth2/clients/c"}'
    with pytest.raises(InvalidMetadataError, match="registration_client_uri"):
        parse_registration(201, body, redirect_uris=("http://127.0.0.1/cb",), requested="none",
                           metadata=metadata, deployment_url=base)


def test_the_transport_never_sends_an_https_deployments_request_in_clear_text() -> None:
    with raw_server(lambda conn, head: conn.sendall(answer("200 OK", b"{}"))) as server:
        request = httpx.Request("POST", f"{server.url}/oauth2/tokens", data={"code_verifier": "v-SECRET"})

        def flow() -> Any:
            yield request

        with make_client(ConnectionSettings(url="https://coder.example.com")) as client, \
                pytest.raises(TransportError, match="clear text"):
            drive(flow(), client)
    assert server.heads == []


# ------------------------------------------------------------------ 2. size cap and deadline


def _endless(server: RawServer) -> Any:
    def handler(conn: socket.socket, head: bytes) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        chunk = b"[" + b" " * 65535
        while not server.stopped(0):
            server.send(conn, chunk)
    return handler


@pytest.mark.parametrize("kind", KINDS)
def test_an_endless_body_stops_at_the_cap(kind: str) -> None:
    cap = 1024 * 1024
    server = RawServer(lambda c, h: None)
    server.handler = _endless(server)
    try:
        coder = open_coder(kind, server.url, max_response_bytes=cap)
        try:
            with pytest.raises(ResponseTooLargeError) as caught:
                coder.me()
        finally:
            close(coder)
    finally:
        server.close()
    err = caught.value
    assert err.limit == cap and "CODER_JUPYTER_MAX_RESPONSE_BYTES" in str(err) and "1 MiB" in str(err)
    assert "/api/v2/users/me" in str(err) and TOKEN not in str(err)
    assert server.sent < 8 * cap  # reading stopped soon after the cap (socket buffers aside)


def test_a_declared_oversized_body_is_refused_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_JUPYTER_MAX_RESPONSE_BYTES", "1000")

    def handler(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")

    with raw_server(handler) as server, Coder(server.url, token=TOKEN) as coder, \
            pytest.raises(ResponseTooLargeError) as caught:
        coder.me()
    assert caught.value.limit == 1000


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_server_hits_the_deadline(kind: str, phase: str) -> None:
    def handler(conn: socket.socket, head: bytes) -> None:
        if phase == "headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not server.stopped(0.05):
                conn.sendall(b"X-Slow: y\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n")
            while not server.stopped(0.05):
                conn.sendall(b" ")

    server = RawServer(handler)
    try:
        # the per-read timeout (5 s) is never hit: a byte arrives every 50 ms
        coder = open_coder(kind, server.url, request_deadline=0.5, timeout=5.0)
        started = time.monotonic()
        try:
            with pytest.raises(DeadlineExceededError) as caught:
                coder.me()
        finally:
            close(coder)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert caught.value.limit == 0.5 and "CODER_JUPYTER_REQUEST_DEADLINE" in str(caught.value)
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, TransportError)
    assert elapsed < 4.0


def test_a_server_trickling_headers_on_a_reused_connection_hits_the_deadline() -> None:
    # Given a server that answers the first request and keeps the connection open, then trickles
    # the headers of the next request on that same connection (a byte every 50 ms)
    ok = b'{"id":"1","username":"alice"}'

    def handler(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(ok)).encode() + b"\r\n\r\n" + ok)
        with contextlib.suppress(OSError):
            if not read_head(conn):  # the client's second request, on this same connection
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            give_up = time.monotonic() + 10  # without the defence the test fails here, not hangs
            while not server.stopped(0.05) and time.monotonic() < give_up:
                conn.sendall(b"X-Slow: y\r\n")

    server = RawServer(handler)
    try:
        with Coder(server.url, token=TOKEN, config=CoderConfig(request_deadline=0.5, timeout=5.0)) as coder:
            coder.me()  # opens the connection the next call reuses
            started = time.monotonic()
            # When the next call reuses it
            with pytest.raises(DeadlineExceededError):
                coder.me()
            elapsed = time.monotonic() - started
    finally:
        server.close()
    # Then the deadline ends it, not the per-read timeout (never hit) or the server
    assert len(server.heads) == 1  # one connection: the second request did reuse it
    assert elapsed < 4.0


def test_the_fakes_latency_knob_hits_a_short_deadline(coder_fake: FakeCoder) -> None:
    coder_fake.add_fault("latency", "^/api/v2/users/me$", delay=1.0, count=1)
    with Coder(coder_fake.url, token=coder_fake.session_token,
               config=CoderConfig(request_deadline=0.3)) as coder, pytest.raises(DeadlineExceededError):
        coder.me()


def test_the_limits_come_from_config_env_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = CoderConfig().connection_settings("https://coder.example.com")
    assert (settings.max_response_bytes, settings.deadline) == (DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_DEADLINE)
    monkeypatch.setenv("CODER_JUPYTER_MAX_RESPONSE_BYTES", "2048")
    monkeypatch.setenv("CODER_JUPYTER_REQUEST_DEADLINE", "7.5")
    settings = CoderConfig().connection_settings("https://coder.example.com")
    assert (settings.max_response_bytes, settings.deadline) == (2048, 7.5)
    settings = CoderConfig(max_response_bytes=10, request_deadline=1).connection_settings("https://x.example")
    assert (settings.max_response_bytes, settings.deadline) == (10, 1.0)


def test_ten_thousand_workspaces_fit_within_the_default_limits() -> None:
    with fake_coder(workspaces=10_000, dcr=True) as fake:
        with Coder(fake.url, token=fake.session_token) as coder:
            assert len(coder.workspaces()) == 10_000
        # and even all of them in one answer (limit=0)
        with make_client(ConnectionSettings(url=fake.url)) as client:
            client.headers["Coder-Session-Token"] = fake.session_token
            page = drive(Api(fake.url).workspaces_page("owner:me", 0, 0), client)
    assert len(page.workspaces) == 10_000


# ------------------------------------------------------------------ 3. answers that are not the JSON expected


def _html(conn: socket.socket, head: bytes) -> None:
    conn.sendall(answer("200 OK", b"<html><body>Please sign in to the Wi-Fi</body></html>",
                        content_type="text/html; charset=utf-8"))


def _truncated(conn: socket.socket, head: bytes) -> None:
    conn.sendall(answer("200 OK", b'{"id": "1234", "username": "al'))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("handler", "content_type"),
                         [(_html, "text/html"), (_truncated, "application/json")],
                         ids=["html", "truncated"])
def test_a_non_json_answer_is_a_typed_error(kind: str, handler: Any, content_type: str) -> None:
    with raw_server(handler) as server:
        coder = open_coder(kind, server.url)
        try:
            with pytest.raises(UnexpectedResponseError) as caught:
                coder.workspaces()
        finally:
            close(coder)
    err = caught.value
    assert (err.method, err.status) == ("GET", 200) and err.content_type.startswith(content_type)
    assert err.url.startswith(server.url) and "?" not in err.url
    assert f"GET {err.url} answered 200 ({content_type}" in str(err)


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_is_an_error_and_credentials_never_reach_the_other_origin(kind: str) -> None:
    with raw_server(lambda conn, head: conn.sendall(answer("200 OK", b"{}"))) as other:
        location = f"{other.url}/api/v2/users/me"
        redirect = answer("302 Found", b"", content_type="text/html", extra=f"Location: {location}\r\n")
        with raw_server(lambda conn, head: conn.sendall(redirect)) as server:
            coder = open_coder(kind, server.url)
            try:
                with pytest.raises(UnexpectedResponseError) as caught:
                    coder.me()
            finally:
                close(coder)
        assert other.heads == []
    assert TOKEN.encode() in server.heads[0]  # the deployment itself got the token, nobody else
    assert caught.value.status == 302 and "redirect" in str(caught.value) and other.url in str(caught.value)


# ------------------------------------------------------------------ 4. store leftovers


_KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from coder_jupyter._oauth.models import TokenSet
    from coder_jupyter._store import Store
    real = os.replace
    def replace(src, dst):
        if str(dst).endswith("tokens.json"):
            os.kill(os.getpid(), signal.SIGKILL)   # die mid-write: the temp file is complete
        real(src, dst)
    os.replace = replace
    Store(sys.argv[1]).save_tokens(TokenSet(access_token=sys.argv[2], refresh_token=sys.argv[3]))
""")


def _kill_mid_write(url: str, access: str, refresh: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, url, access, refresh],
                          env=os.environ.copy(), capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _files_holding(directory: Path, *secrets: str) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file()
                  and any(s.encode() in p.read_bytes() for s in secrets))


def test_a_killed_writers_temp_file_is_removed_at_the_next_write() -> None:
    store = Store("https://coder.example.com")
    _kill_mid_write(store.deployment_url, "at-LEFTOVER-SECRET", "rt-LEFTOVER-SECRET")
    assert [p.name for p in store.path.glob(".tokens.json.*.tmp")]  # the crash left one

    store.save_tokens(TokenSet(access_token="at-new"))

    assert list(store.path.glob(".*.tmp")) == []
    assert _files_holding(store.path, "LEFTOVER-SECRET") == []


def test_after_logout_no_file_holds_a_token(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.login_with_token(coder_fake.session_token)
    _kill_mid_write(coder_fake.url, "at-LEFTOVER-SECRET", "rt-LEFTOVER-SECRET")

    report = auth.logout()

    assert report.local_credentials == "ok"
    assert _files_holding(auth.store.path, coder_fake.session_token, "LEFTOVER-SECRET") == []
    assert list(auth.store.path.glob(".*.tmp")) == []


# ------------------------------------------------------------------ 5. forged state-less cancel


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _consent(fake: FakeCoder, authorization_url: str) -> dict[str, str]:
    from test_login_oauth import consent

    return _query(consent(fake, authorization_url))


def test_a_forged_stateless_cancel_is_refused_and_the_login_survives(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    started = auth.begin_login(redirect_uri="http://127.0.0.1:9/callback")

    # When any web page sends the browser to the callback with error= and no state
    with pytest.raises(LoginStateError):
        finish_login({"error": "access_denied"})

    # Then the real login still completes
    assert auth.status().status == "waiting"
    assert auth.finish_login(_consent(coder_fake, started.authorization_url)).status == "logged_in"


@pytest.mark.coder_fake(generation="g1")
def test_a_stateless_cancel_only_fails_the_g1_deployments_login(coder_fake: FakeCoder) -> None:
    g1 = AuthManager(coder_fake.url, config=CoderConfig(oauth_cancel_without_state=True))
    started = g1.begin_login(redirect_uri="http://127.0.0.1:9/callback")
    # another deployment's login (not configured as G1) is in flight too
    other = PendingLogin(deployment_url="https://other.example.com", state="other-state",
                         code_verifier="v" * 43, expires_at=time.time() + 300)
    g1.pending_logins.put(other)

    with pytest.raises(AccessDeniedError):
        finish_login({"error": "access_denied"})

    with pytest.raises(LoginStateError):
        g1.finish_login({"code": "x", "state": started.state})  # the G1 login was cancelled
    assert g1.pending_logins.take("other-state").deployment_url == "https://other.example.com"


# ------------------------------------------------------------------ 6. loopback listener


@pytest.mark.parametrize("stray", ["?code=forged&state=wrong", "?code=forged", "?error=access_denied",
                                   "?code=c&state=s&state=s"])
def test_the_loopback_listener_ignores_a_stray_callback_and_keeps_listening(stray: str) -> None:
    with LoopbackListener(outcome_timeout=5) as listener:
        listener.expect("s")
        refused = httpx.get(listener.redirect_uri + stray, timeout=10)
        assert refused.status_code == 400 and "forged" not in refused.text

        def browser() -> None:
            result.append(httpx.get(listener.redirect_uri + "?code=real&state=s", timeout=10).status_code)

        import threading

        result: list[int] = []
        thread = threading.Thread(target=browser)
        thread.start()
        callback = listener.wait(5)
        listener.respond(True, "Logged in.")
        thread.join(10)
    assert callback.endswith("?code=real&state=s") and result == [200]


def test_the_loopback_listener_accepts_a_stateless_cancel_only_when_told() -> None:
    with LoopbackListener(outcome_timeout=0.01) as listener:
        listener.expect("s", stateless_error=True)
        assert httpx.get(listener.redirect_uri + "?error=access_denied", timeout=10).status_code == 200
        assert listener.wait(1).endswith("?error=access_denied")

