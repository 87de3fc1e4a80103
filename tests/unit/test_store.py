"""The credential store on real files: permissions, atomic writes, corrupt files, pending logins."""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from coder_jupyter._oauth.models import AuthServerMetadata, ClientRegistration, PendingLogin, TokenSet
from coder_jupyter._store import PendingLogins, Store, known_deployments, store_root
from coder_jupyter._store import _state_key as state_key
from coder_jupyter.errors import CoderError, LoginStateError

URL = "https://coder.example.com"
TOKENS = TokenSet(
    access_token="at-SECRET-1", refresh_token="rt-SECRET-1", expires_at=2000.0, obtained_at=1000.0
)
REGISTRATION = ClientRegistration(
    client_id="cid",
    client_secret="cs-SECRET",
    registration_access_token="rat-SECRET",
    redirect_uris=("http://127.0.0.1/cb",),
)
METADATA = AuthServerMetadata(
    issuer=URL, authorization_endpoint=f"{URL}/oauth2/authorize", token_endpoint=f"{URL}/oauth2/tokens"
)
SECRETS = ("at-SECRET", "rt-SECRET", "cs-SECRET", "rat-SECRET", "verifier-SECRET", "state-SECRET")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def pending(
    state: str = "state-SECRET-1", *, url: str = URL, created: float = 100.0, expires: float = 400.0
) -> PendingLogin:
    return PendingLogin(
        deployment_url=url,
        state=state,
        code_verifier="verifier-SECRET",
        redirect_uri="http://x/cb",
        authorization_url=f"{URL}/oauth2/authorize?state=...",
        client_id="cid",
        created_at=created,
        expires_at=expires,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(URL, root=tmp_path / "root")


@pytest.fixture
def logins(tmp_path: Path) -> PendingLogins:
    return PendingLogins(root=tmp_path / "root")


# -- root and layout ------------------------------------------------------------------------------------


def test_root_comes_from_the_argument_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODER_JUPYTER_DIR", str(tmp_path / "env"))
    assert store_root() == tmp_path / "env"
    assert store_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("CODER_JUPYTER_DIR")
    assert store_root().name == "coder_jupyter"


def test_each_deployment_gets_its_own_readable_directory(tmp_path: Path) -> None:
    a, b = Store(URL, root=tmp_path), Store("https://other.example.com:8443", root=tmp_path)
    a.save_tokens(TOKENS)
    b.save_account({"username": "bob"})
    assert a.path != b.path
    assert a.path.name.startswith("coder.example.com-") and b.path.name.startswith("other.example.com-")
    assert known_deployments(root=tmp_path) == sorted([URL, "https://other.example.com:8443"])
    assert Store(URL, root=tmp_path).load_tokens() == TOKENS


def test_nothing_is_created_until_something_is_written(store: Store) -> None:
    assert store.load_tokens() is None and store.stamp() is None
    assert not store.root.exists()


# -- permissions and atomicity -----------------------------------------------------------------------


def test_files_are_0600_in_0700_directories(store: Store, logins: PendingLogins) -> None:
    # When every kind of file is written
    store.save_tokens(TOKENS)
    store.save_registration(REGISTRATION)
    store.save_metadata(METADATA, now=1.0)
    store.save_account({"username": "alice"})
    logins.put(pending())
    with store.lock():
        pass
    # Then all of them are private to the user
    for directory in (store.root, store.path.parent, store.path, logins.path):
        assert mode(directory) == 0o700, directory
    files = [p for p in [*store.path.iterdir(), *logins.path.iterdir()] if p.is_file()]
    assert len(files) >= 6
    for file in files:
        assert mode(file) == 0o600, file


def test_a_loose_directory_is_tightened_and_a_loose_file_repaired_on_read(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.save_tokens(TOKENS)
    store.path.chmod(0o755)
    (store.path / "tokens.json").chmod(0o644)
    # When the store is read, then written
    with caplog.at_level(logging.WARNING):
        assert store.load_tokens() == TOKENS
    store.save_account({"username": "alice"})
    # Then the modes are back to private, with a warning that names the file but not its content
    assert mode(store.path / "tokens.json") == 0o600
    assert mode(store.path) == 0o700
    assert "tokens.json" in caplog.text and "restricting" in caplog.text
    assert not any(s in caplog.text for s in SECRETS)


def test_a_write_replaces_the_file_atomically_and_leaves_no_temporary(store: Store) -> None:
    store.save_tokens(TOKENS)
    stop = threading.Event()
    seen: list[TokenSet | None] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(store.load_tokens())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        # When many writes happen while another thread keeps reading
        for i in range(200):
            store.save_tokens(TokenSet(access_token=f"at-SECRET-{i}" + "x" * (i * 37), obtained_at=float(i)))
    finally:
        stop.set()
        thread.join()
    # Then every read saw a whole token set, never a partial or missing file
    assert seen and all(t is not None and t.access_token.startswith("at-SECRET-") for t in seen)
    left = sorted(p.name for p in store.path.iterdir() if p.name != ".lock")
    assert left == ["deployment.json", "tokens.json"]


def test_a_failed_write_keeps_the_old_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_tokens(TOKENS)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.save_tokens(TokenSet(access_token="new"))
    monkeypatch.undo()
    assert store.load_tokens() == TOKENS
    assert [p.name for p in store.path.iterdir() if p.name.endswith(".tmp")] == []


# -- corrupt and foreign files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b"[1, 2]", b'{"unexpected": 1}', b"\xff\xfe", b'"text"']
)
def test_a_corrupt_file_is_treated_as_absent_and_logged_without_its_content(
    store: Store, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store.save_account({"username": "alice"})
    for name in ("tokens.json", "registration.json", "metadata.json", "account.json"):
        (store.path / name).write_bytes(content + b" at-SECRET")
    with caplog.at_level(logging.WARNING):
        assert store.load_tokens() is None
        assert store.load_registration() is None
        assert store.load_metadata() is None
        assert store.load_account() is None
    assert "at-SECRET" not in caplog.text
    # And the next write simply replaces it
    store.save_tokens(TOKENS)
    assert store.load_tokens() == TOKENS


def test_a_symlinked_secrets_file_is_not_followed(store: Store, tmp_path: Path) -> None:
    store.save_account({"username": "alice"})
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text('{"access_token": "planted"}')
    (store.path / "tokens.json").symlink_to(elsewhere)
    assert store.load_tokens() is None


# -- round trips, metadata age, deletes -------------------------------------------------------------


def test_everything_round_trips(store: Store) -> None:
    store.save_tokens(TOKENS)
    store.save_registration(REGISTRATION)
    store.save_metadata(METADATA, now=1000.0)
    store.save_account({"username": "alice", "id": "u-1"})
    assert store.load_tokens() == TOKENS
    assert store.load_registration() == REGISTRATION
    assert store.load_metadata() == METADATA
    assert store.load_account() == {"username": "alice", "id": "u-1"}


def test_metadata_older_than_max_age_is_not_returned(store: Store) -> None:
    store.save_metadata(METADATA, now=1000.0)
    assert store.load_metadata(max_age=60, now=1059.0) == METADATA
    assert store.load_metadata(max_age=60, now=1061.0) is None
    assert store.load_metadata(now=99999.0) == METADATA


def test_deletes_are_idempotent(store: Store) -> None:
    store.delete_tokens()
    store.save_tokens(TOKENS)
    store.save_registration(REGISTRATION)
    store.save_account({"username": "alice"})
    for _ in range(2):
        store.delete_tokens()
        store.delete_registration()
        store.delete_account()
    assert (store.load_tokens(), store.load_registration(), store.load_account()) == (None, None, None)


# -- stamp ------------------------------------------------------------------------------------------------


def test_stamp_changes_on_every_write_and_delete(store: Store) -> None:
    assert store.stamp() is None
    stamps = []
    for i in range(50):  # faster than the filesystem's timestamp granularity
        store.save_tokens(TokenSet(access_token="same-length"))
        stamps.append(store.stamp())
        if i % 2:
            store.delete_tokens()
            assert store.stamp() is None
    assert None not in stamps and len(set(stamps)) == len(stamps)


def test_stamp_does_not_move_for_other_files(store: Store) -> None:
    store.save_tokens(TOKENS)
    before = store.stamp()
    store.save_account({"username": "alice"})
    store.save_metadata(METADATA)
    assert store.stamp() == before


# -- lock --------------------------------------------------------------------------------------------------


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    store, same = Store(URL, root=tmp_path), Store(URL, root=tmp_path)
    acquired = threading.Event()

    def other_thread() -> None:
        with store.lock():
            acquired.set()

    with store.lock(), same.lock():  # nested, through two Store objects of one deployment
        thread = threading.Thread(target=other_thread)
        thread.start()
        assert not acquired.wait(0.3)
    thread.join(5)
    assert acquired.is_set()


def test_a_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    store = Store(URL, root=tmp_path)
    errors: list[BaseException] = []
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.lock():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(CoderError, match="stayed locked") as info, store.lock(timeout=0.1):
            pass
        errors.append(info.value)
    finally:
        release.set()
        thread.join()
    assert errors


# -- pending logins -----------------------------------------------------------------------------------


def test_a_pending_login_is_taken_once(logins: PendingLogins) -> None:
    logins.put(pending())
    assert logins.take("state-SECRET-1", now=200.0) == pending()
    # Then a replay is refused, saying it was already used, without the state in the message
    with pytest.raises(LoginStateError, match="already") as info:
        logins.take("state-SECRET-1", now=201.0)
    assert "state-SECRET" not in str(info.value) and "state-SECRET" not in repr(info.value.args)


def test_an_unknown_state_is_refused(logins: PendingLogins) -> None:
    logins.put(pending())
    with pytest.raises(LoginStateError, match="unknown") as info:
        logins.take("state-SECRET-other", now=200.0)
    assert "state-SECRET" not in str(info.value)
    assert logins.take("state-SECRET-1", now=200.0).client_id == "cid"


def test_an_expired_pending_login_is_refused_and_consumed(logins: PendingLogins) -> None:
    logins.put(pending(expires=400.0))
    with pytest.raises(LoginStateError, match="expired"):
        logins.take("state-SECRET-1", now=400.0)
    with pytest.raises(LoginStateError, match="already"):
        logins.take("state-SECRET-1", now=100.0)


def test_the_state_is_not_a_file_name(logins: PendingLogins) -> None:
    logins.put(pending())
    assert not any("state-SECRET" in p.name for p in logins.path.iterdir())


def test_discard_cancels_and_is_idempotent(logins: PendingLogins) -> None:
    logins.put(pending())
    logins.discard("state-SECRET-1")
    logins.discard("state-SECRET-1")
    logins.discard("never-existed")
    with pytest.raises(LoginStateError):
        logins.take("state-SECRET-1", now=200.0)


def test_purge_removes_expired_and_corrupt_pending_logins_only(logins: PendingLogins) -> None:
    logins.put(pending("a", expires=150.0))
    logins.put(pending("b", expires=500.0))
    (logins.path / ("0" * 64 + ".json")).write_text("{garbage")
    assert logins.purge_expired(now=200.0) == 2
    assert logins.take("b", now=200.0).state == "b"


def test_a_new_pending_login_purges_the_expired_ones(logins: PendingLogins) -> None:
    logins.put(pending("stale", created=100.0, expires=150.0))
    logins.put(pending("new", created=200.0, expires=500.0))
    assert sorted(p.name for p in logins.path.glob("*.json")) == [state_key("new") + ".json"]


def test_latest_for_finds_the_only_live_login_of_a_deployment(logins: PendingLogins) -> None:
    assert logins.latest_for(URL, now=200.0) is None
    logins.put(pending("old", expires=150.0))
    logins.put(pending("live", created=190.0))
    logins.put(pending("elsewhere", url="https://other.example.com"))
    # Then the expired one and the other deployment's are eliminated
    found = logins.latest_for(URL + "/", now=200.0)
    assert found is not None and found.state == "live"
    # And with two candidates there is no guess
    assert logins.latest_for(None, now=200.0) is None
    logins.put(pending("second", created=195.0))
    assert logins.latest_for(URL, now=200.0) is None


# -- no secrets in reprs ----------------------------------------------------------------------------


def test_no_secret_in_any_repr(store: Store, logins: PendingLogins) -> None:
    logins.put(pending())
    texts = [
        repr(store),
        repr(logins),
        repr(TOKENS),
        repr(REGISTRATION),
        repr(pending()),
        repr(logins.take("state-SECRET-1", now=200.0)),
    ]
    for text in texts:
        assert not any(s in text for s in SECRETS), text
