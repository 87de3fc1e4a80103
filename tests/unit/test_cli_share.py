"""The Coder CLI mirror on real files: formats and modes (CODER_BEHAVIOR.md §13), the terminal
target's never-clobber rule, removal of our own content only, the macOS/Windows decision."""

from __future__ import annotations

import logging
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from clihelpers import STAND_IN, CliHome

from coder_jupyter._cli_share import (
    RECORD,
    mirror,
    private_dir,
    share_terminals,
    stop_terminals,
    terminal_mode,
    terminal_share,
)
from coder_jupyter._config import CoderConfig
from coder_jupyter._credentials import CredentialSources, store_for
from coder_jupyter._oauth.models import TokenSet
from coder_jupyter._store import Store
from coder_jupyter.errors import CliSessionConflictError, NotLoggedInError

URL = "https://coder.example.com"


def tokens(n: int) -> TokenSet:
    return TokenSet(access_token=f"abcdefghij-SECRETSECRETSECRET{n:04d}", refresh_token=f"rt-{n}",
                    expires_at=10_000.0 + n)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path, cli_home: CliHome) -> Store:
    return Store(URL, root=tmp_path / "store", on_tokens=mirror)


def test_a_saved_login_is_written_as_the_cli_writes_it(store: Store) -> None:
    # When
    store.save_tokens(tokens(1))

    # Then: url and session, exactly, no trailing newline, 0600 in a 0700 directory
    private = private_dir(store)
    assert private == store.path / "coder-cli"
    assert (private / "session").read_bytes() == tokens(1).access_token.encode()
    assert (private / "url").read_bytes() == URL.encode()
    assert mode(private) == 0o700
    assert mode(private / "session") == 0o600 and mode(private / "url") == 0o600
    assert not list(private.glob(".*.tmp"))


def test_a_refresh_rewrites_and_a_delete_removes_the_private_copy(store: Store) -> None:
    store.save_tokens(tokens(1))

    # When refreshed
    store.save_tokens(tokens(2))

    # Then
    assert (private_dir(store) / "session").read_text() == tokens(2).access_token

    # When logged out (or the refresh refused)
    store.delete_tokens()

    # Then
    assert not (private_dir(store) / "session").exists()
    assert not (private_dir(store) / "url").exists()


def test_a_temporary_copy_left_by_a_killed_writer_is_removed_at_the_next_write_and_at_logout(
    store: Store,
) -> None:
    store.save_tokens(tokens(1))
    leftover = private_dir(store) / ".session.0123456789ab.tmp"
    leftover.write_text(tokens(1).access_token)

    store.save_tokens(tokens(2))

    assert not leftover.exists()
    leftover.write_text(tokens(2).access_token)
    store.delete_tokens()
    assert not leftover.exists()


def test_the_stand_in_cli_reads_the_private_copy(store: Store, coder_fake: Any, cli_home: CliHome) -> None:
    store = Store(coder_fake.url, root=store.root, on_tokens=mirror)
    store.save_tokens(TokenSet(access_token=coder_fake.session_token, method="token"))

    # When
    done = cli_home.coder("whoami", env=cli_home.env(CODER_CONFIG_DIR=str(private_dir(store))))

    # Then
    assert done.returncode == 0, done.stderr
    assert f"authenticated as {coder_fake.username}" in done.stdout


def test_the_stand_in_is_honest_a_trailing_newline_in_session_fails(coder_fake: Any, cli_home: CliHome,
                                                                    tmp_path: Path) -> None:
    # A file written the careless way (with "\n") is not a working session for the CLI.
    careless = tmp_path / "careless"
    careless.mkdir()
    (careless / "url").write_text(coder_fake.url + "\n")  # url is trimmed: fine
    (careless / "session").write_text(coder_fake.session_token + "\n")

    done = cli_home.coder("whoami", env=cli_home.env(CODER_CONFIG_DIR=str(careless)))

    assert done.returncode != 0


def test_store_for_attaches_the_mirror_and_a_plain_store_writes_nothing(
    tmp_path: Path, cli_home: CliHome
) -> None:
    config = CoderConfig(data_dir=str(tmp_path / "s"))
    assert store_for(config, URL).on_tokens is mirror

    plain = Store(URL, root=tmp_path / "plain")
    plain.save_tokens(tokens(1))

    assert not private_dir(plain).exists()


def test_a_failing_mirror_never_breaks_the_login(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.path.mkdir(parents=True)
    (store.path / "coder-cli").write_text("a file where the directory should be")

    # When
    with caplog.at_level(logging.WARNING):
        store.save_tokens(tokens(1))

    # Then the tokens are stored, the failure is logged without the token
    assert store.load_tokens() == tokens(1)
    assert "could not update the Coder CLI's copy" in caplog.text
    assert "SECRET" not in caplog.text


# -- terminals -----------------------------------------------------------------------------------------


def test_share_terminals_writes_the_default_directory_and_records_only_a_hash(
    store: Store, cli_home: CliHome
) -> None:
    store.save_tokens(tokens(1))

    # When
    share = share_terminals(store, platform="linux")

    # Then
    assert share.mode == "files" and Path(share.directory) == cli_home.default_dir
    assert (cli_home.default_dir / "session").read_bytes() == tokens(1).access_token.encode()
    assert (cli_home.default_dir / "url").read_bytes() == URL.encode()
    assert mode(cli_home.default_dir / "session") == 0o600
    assert "SECRET" not in (store.path / RECORD).read_text()
    assert mode(store.path / RECORD) == 0o600


def test_share_terminals_honours_coder_config_dir_of_the_server(store: Store, tmp_path: Path) -> None:
    store.save_tokens(tokens(1))
    elsewhere = tmp_path / "cli-config"

    share = share_terminals(store, platform="linux", environ={"CODER_CONFIG_DIR": str(elsewhere)})

    assert Path(share.directory) == elsewhere
    assert (elsewhere / "session").read_text() == tokens(1).access_token


def test_a_refresh_updates_the_terminal_copy_and_logout_removes_it(store: Store, cli_home: CliHome) -> None:
    store.save_tokens(tokens(1))
    share_terminals(store, platform="linux")

    # When refreshed
    store.save_tokens(tokens(2))

    # Then
    assert (cli_home.default_dir / "session").read_text() == tokens(2).access_token

    # When logged out
    store.delete_tokens()

    # Then our files are gone, and so is the target
    assert not (cli_home.default_dir / "session").exists()
    assert not (cli_home.default_dir / "url").exists()
    assert terminal_share(store) is None


def test_share_terminals_refuses_to_clobber_a_users_coder_login(store: Store, cli_home: CliHome) -> None:
    store.save_tokens(tokens(1))
    cli_home.default_dir.mkdir(parents=True)
    (cli_home.default_dir / "url").write_text("https://other.example.com")
    (cli_home.default_dir / "session").write_text("users-own-session")

    # When
    with pytest.raises(CliSessionConflictError) as raised:
        share_terminals(store, platform="linux")

    # Then nothing changed, and the message says how to go on
    assert "--force" in str(raised.value) and str(cli_home.default_dir) in str(raised.value)
    assert (cli_home.default_dir / "session").read_text() == "users-own-session"
    assert (cli_home.default_dir / "url").read_text() == "https://other.example.com"
    assert terminal_share(store) is None

    # When forced
    share_terminals(store, platform="linux", force=True)

    # Then
    assert (cli_home.default_dir / "session").read_text() == tokens(1).access_token


def test_sharing_again_needs_no_force_for_our_own_copy(store: Store, cli_home: CliHome) -> None:
    store.save_tokens(tokens(1))
    share_terminals(store, platform="linux")
    stop_terminals(store)
    store.save_tokens(tokens(2))
    share_terminals(store, platform="linux")
    # A stale copy of ours left behind (e.g. the record was lost) is recognised by its hash too.
    (cli_home.default_dir / "session").write_text(tokens(2).access_token)

    share_terminals(store, platform="linux")

    assert (cli_home.default_dir / "session").read_text() == tokens(2).access_token


def test_a_refresh_stops_sharing_where_the_user_logged_in_since(
    store: Store, cli_home: CliHome, caplog: pytest.LogCaptureFixture
) -> None:
    store.save_tokens(tokens(1))
    share_terminals(store, platform="linux")
    (cli_home.default_dir / "session").write_text("users-new-session")  # `coder login` in a terminal

    # When refreshed, then logged out
    with caplog.at_level(logging.WARNING):
        store.save_tokens(tokens(2))
    store.delete_tokens()

    # Then the user's session was never touched, and sharing stopped with a warning
    assert (cli_home.default_dir / "session").read_text() == "users-new-session"
    assert terminal_share(store) is None
    assert "stopped sharing" in caplog.text


def test_logout_leaves_a_session_that_is_no_longer_ours(store: Store, cli_home: CliHome) -> None:
    store.save_tokens(tokens(1))
    share_terminals(store, platform="linux")
    (cli_home.default_dir / "session").write_text("users-new-session")

    store.delete_tokens()

    assert (cli_home.default_dir / "session").read_text() == "users-new-session"
    assert (cli_home.default_dir / "url").exists()


def test_off_removes_only_our_copy_and_keeps_the_private_one(store: Store, cli_home: CliHome) -> None:
    store.save_tokens(tokens(1))
    share_terminals(store, platform="linux")

    assert stop_terminals(store) is True

    assert not (cli_home.default_dir / "session").exists()
    assert (private_dir(store) / "session").exists()
    assert stop_terminals(store) is False


def test_nothing_to_share_without_a_stored_login(store: Store) -> None:
    with pytest.raises(NotLoggedInError):
        share_terminals(store, platform="linux")


# -- macOS / Windows (decided here; cannot run here) -----------------------------------------------------


@pytest.mark.parametrize(("platform", "environ", "binary", "expected"), [
    ("linux", {}, "/usr/bin/coder", "files"),
    ("linux", {}, None, "files"),
    ("darwin", {}, "/usr/local/bin/coder", "cli"),
    ("win32", {}, "C:/coder.exe", "cli"),
    ("darwin", {}, None, "private"),
    ("win32", {}, None, "private"),
    ("darwin", {"CODER_CONFIG_DIR": "/tmp/x"}, "/usr/local/bin/coder", "files"),  # non-default dir: files
    ("win32", {"CODER_USE_KEYRING": "false"}, "C:/coder.exe", "files"),
])
def test_terminal_mode_follows_section_13(platform: str, environ: dict[str, str], binary: str | None,
                                          expected: str) -> None:
    assert terminal_mode(platform=platform, environ=environ, coder_binary=binary) == expected


def test_keyring_platform_with_a_coder_binary_runs_its_login_with_the_token_in_the_environment(
    coder_fake: Any, tmp_path: Path, cli_home: CliHome
) -> None:
    store = Store(coder_fake.url, root=tmp_path / "store", on_tokens=mirror)
    store.save_tokens(TokenSet(access_token=coder_fake.session_token, method="token"))
    calls: list[dict[str, Any]] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append({"args": args, "env": kwargs.get("env", {})})
        return subprocess.run(args, **kwargs)  # the stand-in (on Linux it keeps files, not a keyring)

    # When
    share = share_terminals(store, platform="darwin", environ={}, which=lambda _: str(STAND_IN), run=run)

    # Then the CLI's own login stored it; the token was never on a command line
    assert share.mode == "cli"
    login = [c for c in calls if c["args"][1:3] == ["login", "--use-token-as-session"]]
    assert login and login[0]["env"]["CODER_SESSION_TOKEN"] == coder_fake.session_token
    assert all(coder_fake.session_token not in " ".join(c["args"]) for c in calls)
    assert (cli_home.default_dir / "session").read_text() == coder_fake.session_token

    # When stopped: its own logout, because the CLI still holds our token
    stop_terminals(store, run=run)

    assert calls[-1]["args"][1:] == ["logout", "--url", coder_fake.url, "--yes"]
    assert not (cli_home.default_dir / "session").exists()


def test_keyring_platform_without_a_coder_binary_gives_the_one_line_to_run(store: Store) -> None:
    store.save_tokens(tokens(1))

    share = share_terminals(store, platform="win32", environ={}, which=lambda _: None)

    assert share.mode == "private"
    assert share.instruction == f"export CODER_CONFIG_DIR={private_dir(store)}"
    assert share.instruction in share.describe()


# -- the other direction ------------------------------------------------------------------------------------


def test_the_cli_source_skips_our_own_mirror_and_reads_the_users_coder_login(
    tmp_path: Path, cli_home: CliHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = CoderConfig(data_dir=str(tmp_path / "s"))
    store = store_for(config, URL)
    store.save_tokens(tokens(1))
    store.delete_tokens()  # a stale CODER_CONFIG_DIR must not resurrect anything
    cli_home.default_dir.mkdir(parents=True)
    (cli_home.default_dir / "url").write_text(URL)
    (cli_home.default_dir / "session").write_text("users-own-session")
    monkeypatch.setenv("CODER_CONFIG_DIR", str(private_dir(store)))

    found = CredentialSources(config, URL).fixed("cli")

    assert found is not None and found.token == "users-own-session"
