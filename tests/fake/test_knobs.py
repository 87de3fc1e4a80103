"""Knobs of the fake: faults, request log, control API, in-process lifecycle and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from coder_jupyter.testing import FakeCoder, Fault, fake_coder

#: These tests describe the G3 provider (items 1-30); G4 (the default) has its own module.
pytestmark = pytest.mark.coder_fake(generation="g3")

ROOT = Path(__file__).resolve().parents[2]


def test_fault_error_status_and_count(coder_fake: FakeCoder, api: httpx.Client) -> None:
    coder_fake.add_fault("error", r"^/api/v2/workspaces$", "GET", count=2, status=503)
    assert [api.get("/api/v2/workspaces").status_code for _ in range(3)] == [503, 503, 200]
    assert api.get("/api/v2/users/me").status_code == 200  # other routes untouched


def test_fault_rate_limit_with_retry_after(coder_fake: FakeCoder, http: httpx.Client) -> None:
    coder_fake.add_fault("ratelimit", "/oauth2/tokens", "POST", retry_after=7, count=1)
    limited = http.post("/oauth2/tokens", data={})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["error"] == "temporarily_unavailable"
    assert http.post("/oauth2/tokens", data={}).status_code == 400


def test_fault_dropped_connection(coder_fake: FakeCoder, api: httpx.Client) -> None:
    coder_fake.add_fault("drop", "/api/v2/users/me", count=1)
    with pytest.raises(httpx.TransportError):
        api.get("/api/v2/users/me")
    assert api.get("/api/v2/users/me").status_code == 200
    assert coder_fake.requests[0].status == 0 and coder_fake.requests[0].fault == "drop"


def test_fault_latency_and_probability(coder_fake: FakeCoder, api: httpx.Client) -> None:
    coder_fake.add_fault("latency", "/api/v2/buildinfo", delay=0.2, count=1)
    started = time.perf_counter()
    assert api.get("/api/v2/buildinfo").status_code == 200
    assert time.perf_counter() - started >= 0.2
    never = coder_fake.add_fault("error", "/api/v2/buildinfo", probability=0.0)
    assert api.get("/api/v2/buildinfo").status_code == 200
    assert coder_fake.remove_fault(never.id)
    with pytest.raises(ValueError, match="kind"):
        Fault(kind="explode")  # type: ignore[arg-type]


def test_request_log_counts_and_redaction(coder_fake: FakeCoder, api: httpx.Client) -> None:
    ws_id = coder_fake.create_workspace("admin", "dev")
    api.get(f"/api/v2/workspaces/{ws_id}")
    api.get(f"/api/v2/workspaces/{ws_id}")
    api.get("/api/v2/users/me", params={"access_token": coder_fake.session_token})
    counts = coder_fake.request_counts()
    assert counts["GET", "/api/v2/workspaces/{id}"] == 2
    assert counts["GET", "/api/v2/users/{user}"] == 1
    assert coder_fake.session_token not in repr(coder_fake.requests)
    coder_fake.clear_requests()
    assert coder_fake.requests == []


def test_control_api(coder_fake: FakeCoder, http: httpx.Client, api: httpx.Client) -> None:
    fault = http.post(
        "/__fake__/faults", json={"kind": "error", "path": "^/api/v2/buildinfo$", "status": 502}
    )
    assert fault.status_code == 201
    assert http.get("/api/v2/buildinfo").status_code == 502
    assert http.get("/__fake__/faults").json()[0]["hits"] == 1
    assert http.delete("/__fake__/faults").status_code == 204
    assert http.get("/api/v2/buildinfo").status_code == 200
    assert http.post("/__fake__/faults", json={"kind": "nope"}).status_code == 400
    before = coder_fake.now()
    http.post("/__fake__/clock", json={"advance": 3600})
    assert coder_fake.now() - before >= 3600
    settings = http.put("/__fake__/settings", json={"oauth2": False, "generation": "g1"}).json()
    assert settings["oauth2"] is False and settings["generation"] == "g1"
    assert http.get("/.well-known/oauth-authorization-server").status_code == 403
    assert http.put("/__fake__/settings", json={"bogus": 1}).status_code == 400
    user = http.post("/__fake__/users", json={"username": "erin", "workspaces": 2}).json()
    me = http.get("/api/v2/users/me", headers={"Coder-Session-Token": user["session_token"]})
    assert me.json()["username"] == "erin"
    counts = http.get("/__fake__/requests", params={"counts": ""}).json()
    assert {"method": "GET", "route": "/api/v2/users/{user}", "count": 1} in counts
    assert http.get("/__fake__/").json()["settings"]["generation"] == "g1"
    assert http.delete("/__fake__/requests").status_code == 204


def test_in_process_lifecycle_and_clean_stop() -> None:
    fake = FakeCoder(port=0).start()
    try:
        assert httpx.get(f"{fake.url}/api/v2/buildinfo").status_code == 200
    finally:
        fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{fake.url}/api/v2/buildinfo", timeout=2)
    with fake_coder(generation="g2") as other:
        assert other.url != fake.url or other.port == fake.port
    with pytest.raises(ValueError, match="generation"):
        FakeCoder(generation="g9")  # type: ignore[arg-type]


def test_session_fixture_is_shared(coder_fake_session: FakeCoder) -> None:
    assert httpx.get(f"{coder_fake_session.url}/api/v2/buildinfo").status_code == 200
    assert coder_fake_session.describe_settings()["oauth2_rate_limit"] is None


def test_cli_prints_one_json_line_and_exits_cleanly_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coder_jupyter.testing",
            "--port",
            "0",
            "--workspaces",
            "3",
            "--users",
            "2",
            "--access-token-ttl",
            "120",
            "--no-dcr",
            "--fault",
            '{"kind":"error","path":"^/api/v2/templates$","count":1}',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert set(info) == {"url", "username", "password", "session_token"}
        headers = {"Coder-Session-Token": info["session_token"]}
        listing = httpx.get(f"{info['url']}/api/v2/workspaces", params={"q": "owner:me"}, headers=headers)
        assert listing.json()["count"] == 3
        assert httpx.get(f"{info['url']}/api/v2/users/user2", headers=headers).status_code == 200
        doc = httpx.get(f"{info['url']}/.well-known/oauth-authorization-server").json()
        assert "registration_endpoint" not in doc
        assert httpx.get(f"{info['url']}/api/v2/templates", headers=headers).status_code == 500
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert out == ""  # exactly one line was printed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
