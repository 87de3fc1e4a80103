"""Several OS processes race to refresh one expired token: exactly one refresh reaches Coder,
and every process ends up authenticated (rotating refresh tokens are never spent twice)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from oauthhelpers import login_by_consent  # pytest puts this test directory on sys.path

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder

# Coder's G4 default has DCR off: these tests play an admin who turned it on.
pytestmark = pytest.mark.coder_fake(dcr=True)

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


@pytest.mark.slow
@pytest.mark.coder_fake(access_token_ttl=600)
def test_racing_processes_refresh_exactly_once(coder_fake: FakeCoder, tmp_path: Path) -> None:
    # Given a login whose access token has expired, for us and for the server
    auth = login_by_consent(coder_fake)
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
