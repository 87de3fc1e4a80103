"""Several OS processes race to refresh one expired token: exactly one refresh reaches Coder,
and every process ends up authenticated (rotating refresh tokens are never spent twice)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder, fake_coder

WORKER = """
import sys, httpx
from coder_jupyter._login import AuthManager
auth = AuthManager(sys.argv[1])
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()                      # all processes start together
with httpx.Client(auth=auth.httpx_auth) as client:
    response = client.get(sys.argv[1] + "/api/v2/users/me")
print(response.status_code, response.json().get("username"))
"""

PROCESSES = 4


@pytest.fixture
def coder_fake(request: pytest.FixtureRequest) -> Iterator[FakeCoder]:
    """A fresh fake deployment; options via ``@pytest.mark.parametrize("coder_fake", [{...}], indirect=True)``
    (local, so the tests run whether or not the package's pytest plugin is installed)."""
    with fake_coder(**getattr(request, "param", {})) as fake:
        yield fake


@pytest.mark.slow
@pytest.mark.parametrize("coder_fake", [{"access_token_ttl": 600}], indirect=True)
def test_racing_processes_refresh_exactly_once(coder_fake: FakeCoder, tmp_path: Path) -> None:
    # Given a login whose access token has expired, for us and for the server
    auth = AuthManager(coder_fake.url)
    started = auth.begin_login(redirect_uri="http://127.0.0.1:8123/callback")
    with httpx.Client(cookies={"coder_session_token": coder_fake.session_token}) as browser:
        page = browser.get(started.authorization_url)
        csrf = re.search(r"name='csrf_token' value='([^']*)'", page.text)
        answer = browser.post(
            started.authorization_url, data={"csrf_token": unescape(csrf[1]) if csrf else ""}
        )
    auth.finish_login(answer.headers["Location"])
    tokens = auth.credentials.current()
    assert tokens is not None
    auth.store.save_tokens(dataclasses.replace(tokens, expires_at=time.time() - 1))
    coder_fake.advance(601)
    coder_fake.clear_requests()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    # When several processes use it at the same moment
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), coder_fake.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = [worker.communicate(timeout=60) for worker in workers]
    # Then
    for (out, err), worker in zip(results, workers, strict=True):
        assert worker.returncode == 0, err
        assert out.split() == ["200", coder_fake.username]
    assert coder_fake.request_counts()["POST", "/oauth2/tokens"] == 1
    assert AuthManager(coder_fake.url).status().status == "logged_in"
