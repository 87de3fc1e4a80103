"""The store under real concurrency: several OS processes racing on one set of files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from coder_jupyter._oauth.models import PendingLogin
from coder_jupyter._store import PendingLogins, Store

URL = "https://coder.example.com"
REPO = Path(__file__).resolve().parents[2]

TAKE = """
import sys, time
from coder_jupyter._store import PendingLogins
from coder_jupyter.errors import LoginStateError
logins = PendingLogins(root=sys.argv[1])
sys.stdin.readline()  # the start signal: every process is up and waiting
try:
    pending = logins.take(sys.argv[2], now=time.time())
except LoginStateError as exc:
    print("lost", exc)
else:
    print("won", pending.code_verifier)
"""

INCREMENT = """
import sys
from coder_jupyter._store import Store
store = Store(sys.argv[2], root=sys.argv[1])
sys.stdin.readline()
for _ in range(int(sys.argv[3])):
    with store.lock():
        n = (store.load_account() or {}).get("n", 0)
        store.save_account({"n": n + 1})
print("done")
"""


def race(script: str, *args: str, processes: int) -> list[str]:
    """Start ``processes`` copies of ``script``, release them at once, return their outputs."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    for child in children:  # the imports are done while the others start; release all together
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_racing_processes_take_a_pending_login_exactly_once(tmp_path: Path) -> None:
    logins = PendingLogins(root=tmp_path)
    logins.put(
        PendingLogin(
            deployment_url=URL,
            state="the-state",
            code_verifier="the-verifier",
            created_at=0.0,
            expires_at=4e9,
        )
    )
    # When eight processes take the same state at the same moment
    outputs = race(TAKE, str(tmp_path), "the-state", processes=8)
    # Then exactly one gets the login; the others are told it was already used
    winners = [o for o in outputs if o.startswith("won")]
    assert winners == ["won the-verifier"]
    losers = [o for o in outputs if o not in winners]
    assert all(o.startswith("lost") and "already" in o and "the-state" not in o for o in losers)
    assert [p.name for p in logins.path.iterdir() if p.suffix != ".used"] == []


def test_processes_incrementing_under_the_lock_lose_no_update(tmp_path: Path) -> None:
    # When four processes each increment a stored counter 40 times under the store's lock
    outputs = race(INCREMENT, str(tmp_path), URL, "40", processes=4)
    # Then every increment is there
    assert outputs == ["done"] * 4
    store = Store(URL, root=tmp_path)
    assert store.load_account() == {"n": 160}
    assert json.loads((store.path / "account.json").read_text()) == {"n": 160}
