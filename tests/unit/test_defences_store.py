"""Store defences that no other test isolates: each test fails if the one check it names is removed."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from coder_jupyter._oauth.models import PendingLogin, TokenSet
from coder_jupyter._store import PendingLogins, Store
from coder_jupyter._store import _state_key as state_key
from coder_jupyter.errors import LoginStateError

URL = "https://coder.example.com"


def pending(state: str) -> PendingLogin:
    return PendingLogin(deployment_url=URL, state=state, code_verifier="verifier-SECRET",
                        redirect_uri="http://x/cb", client_id="cid", created_at=100.0, expires_at=400.0)


@pytest.fixture
def logins(tmp_path: Path) -> PendingLogins:
    return PendingLogins(root=tmp_path / "root")


def test_a_pending_record_filed_under_another_states_name_is_refused(logins: PendingLogins) -> None:
    # Given someone's pending login moved (or planted) under the file name of a state we know
    logins.put(pending("state-SECRET-victim"))
    victim = logins.path / f"{state_key('state-SECRET-victim')}.json"
    victim.rename(logins.path / f"{state_key('state-known')}.json")

    # When the known state is presented, Then the record's own state must match it
    with pytest.raises(LoginStateError) as info:
        logins.take("state-known", now=200.0)
    assert "SECRET" not in str(info.value)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="ownership checks are POSIX-only")
def test_a_secrets_file_owned_by_another_user_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(URL, root=tmp_path / "root")
    store.save_tokens(TokenSet(access_token="at-SECRET", refresh_token="rt-SECRET"))
    me = os.getuid()

    # When the files belong to someone else (seen from this process: another uid)
    monkeypatch.setattr(os, "getuid", lambda: me + 1)
    with caplog.at_level(logging.WARNING, logger="coder_jupyter._store"):
        tokens = store.load_tokens()

    # Then they are treated as absent, and the warning names the file, not its content
    assert tokens is None
    assert "another user" in caplog.text and "SECRET" not in caplog.text


def test_every_file_under_pending_is_0600_after_take_outcome_and_discard(logins: PendingLogins) -> None:
    logins.put(pending("state-SECRET-1"))
    logins.put(pending("state-SECRET-2"))
    logins.put(pending("state-SECRET-3"))

    # When logins are consumed, finished with an outcome, and cancelled
    logins.take("state-SECRET-1", now=200.0)
    logins.take("state-SECRET-2", now=200.0)
    logins.record_outcome("state-SECRET-2", ok=False, error="access_denied", message="declined")
    logins.discard("state-SECRET-3")

    # Then every file left (tombstones included) is private, in a private directory
    files = list(logins.path.iterdir())
    assert len(files) == 3
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    assert stat.S_IMODE(logins.path.stat().st_mode) == 0o700
