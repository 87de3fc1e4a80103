"""Sharing a notebook login with the Coder CLI (``CODER_BEHAVIOR.md`` §13): the CLI's copies of
a deployment's login, kept equal to the store by whoever writes the store.

**One mirror, written by the token writer.** :func:`mirror` is the store's ``on_tokens``
observer (``_credentials.store_for`` attaches it), so every save of tokens — a login in any
process, a refresh in a kernel or in the Jupyter server — and every delete — logout, a refused
refresh — updates the copies at once, under the store lock the writer holds. No caller can
forget it, and a copy never outlives the login it came from.

**The copies.** The CLI reads ``url`` (trimmed) and ``session`` (*not* trimmed, so written
without a newline) from its config directory, in file mode whenever the directory is not the
default one (§13):

* always, a **private** config directory in the store, ``<deployment dir>/coder-cli/``
  (0700, files 0600). A kernel points ``CODER_CONFIG_DIR`` at it, so ``!coder …`` and
  ``subprocess.run(["coder", …])`` use the notebook's login;
* opt-in (:func:`share_terminals`), a **terminal target**: the CLI config directory of the Jupyter
  server's environment (``CODER_CONFIG_DIR``, else ``~/.config/coderv2``), recorded in the store
  (``cli-share.json``, with only a SHA-256 of the session we wrote) so refreshes update it and
  logout removes it. On macOS and Windows the default directory means the OS keyring: there the
  CLI's own ``coder login --use-token-as-session`` stores it (token in the child's environment,
  never on its command line), or, without a ``coder`` binary, terminals are told to
  ``export CODER_CONFIG_DIR=<private dir>``.

**Never clobber.** A session file we did not write (its hash is not the one recorded) is left
alone: :func:`share_terminals` refuses without ``force``, a refresh stops sharing there, and
removal deletes only files whose content is still ours.

Only the store's credentials (an OAuth login or a saved API token) are mirrored: a
``CODER_SESSION_TOKEN`` or a CLI session that we merely read is never copied anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._cli_session import default_cli_config_dir
from ._oauth.models import TokenSet
from ._store import Store, write_private_file
from .errors import CliSessionConflictError, CoderError, NotLoggedInError

__all__ = [
    "PRIVATE_DIR",
    "RECORD",
    "TerminalMode",
    "TerminalShare",
    "is_private_dir",
    "mirror",
    "private_dir",
    "private_session_exists",
    "share_terminals",
    "stop_terminals",
    "terminal_mode",
    "terminal_share",
]

log = logging.getLogger(__name__)

#: The private CLI config directory's name inside a deployment's store directory.
PRIVATE_DIR = "coder-cli"
#: The store record of the terminal target.
RECORD = "cli-share.json"
#: Seconds any ``coder`` child may take (the VS Code extension's limit).
CLI_TIMEOUT = 60.0

#: ``files``: we write ``url`` and ``session`` in the directory; ``cli``: the CLI's own
#: ``login --use-token-as-session`` stores it (the keyring); ``private``: terminals must point
#: ``CODER_CONFIG_DIR`` at the private directory.
TerminalMode = Literal["files", "cli", "private"]

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class TerminalShare:
    """Where terminals get the login (public: paths and a mode, never a secret)."""

    mode: TerminalMode
    directory: str
    #: The one line a terminal needs (``private`` mode), else ``None``.
    instruction: str | None = None

    def describe(self) -> str:
        """One phrase for a status line."""
        if self.mode == "files":
            return f"the Coder CLI's config in {self.directory}"
        if self.mode == "cli":
            return "the Coder CLI's default store (the OS keyring), via coder login --use-token-as-session"
        return f"{self.directory} — in a terminal run: {self.instruction}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _same(token: str | None, digest: object) -> bool:
    return token is not None and isinstance(digest, str) and hmac.compare_digest(_digest(token), digest)


# -- files ------------------------------------------------------------------------------------------


def private_dir(store: Store) -> Path:
    """The private CLI config directory of ``store``'s deployment (may not exist yet)."""
    return store.path / PRIVATE_DIR


def is_private_dir(path: Path, root: Path) -> bool:
    """True if ``path`` is one of our private CLI config directories under the store ``root``."""
    try:
        base = (root / "deployments").resolve(strict=False)
        rel = path.expanduser().resolve(strict=False).relative_to(base)
    except ValueError:
        return False
    return len(rel.parts) == 2 and rel.parts[1] == PRIVATE_DIR


def private_session_exists(store: Store) -> bool:
    """One ``stat``: does the private directory hold a session now?"""
    return (private_dir(store) / "session").is_file()


def _read_session(directory: Path) -> str | None:
    """The ``session`` file exactly as the CLI reads it (not trimmed), or ``None``."""
    try:
        return (directory / "session").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write_cli_files(directory: Path, url: str, token: str, *, private: bool) -> None:
    """Write ``url`` and ``session`` as the CLI does (0600, no trailing newline), atomically."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if private and directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    _remove_leftovers(directory)
    write_private_file(directory / "url", url.encode())
    write_private_file(directory / "session", token.encode())


def _remove_leftovers(directory: Path) -> None:
    """Our temporary copies left by a process killed mid-write (they may hold a token)."""
    for name in ("url", "session"):
        for leftover in directory.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _remove_cli_files(directory: Path, url: str | None) -> None:
    """Remove ``session``, and ``url`` when it names ``url`` (``None``: whatever it names)."""
    for name, keep in (("session", None), ("url", url)):
        path = directory / name
        with contextlib.suppress(OSError):
            if keep is None or path.read_text(encoding="utf-8").strip() == keep:
                path.unlink()


# -- the CLI itself (macOS / Windows keyring) --------------------------------------------------------


def _run_cli(binary: str, args: list[str], *, token: str | None = None,
             run: Runner = subprocess.run) -> subprocess.CompletedProcess[str] | None:
    """Run ``coder <args>``; the token travels in the child's environment only. ``None`` if the
    CLI could not be started or took too long."""
    env = {k: v for k, v in os.environ.items() if k not in ("CODER_SESSION_TOKEN", "CODER_URL")}
    if token is not None:
        env["CODER_SESSION_TOKEN"] = token
    try:
        return run([binary, *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("running the Coder CLI failed (%s)", type(exc).__name__)
        return None


def _cli_token(binary: str, url: str, run: Runner) -> str | None:
    """The token the CLI holds for ``url`` (``coder login token --url``, CLI 2.31+), or ``None``."""
    done = _run_cli(binary, ["login", "token", "--url", url], run=run)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _cli_login(binary: str, url: str, token: str, run: Runner) -> None:
    done = _run_cli(binary, ["login", "--use-token-as-session", url], token=token, run=run)
    if done is None or done.returncode != 0:
        raise CoderError(f"`coder login --use-token-as-session {url}` failed"
                         f"{f' (exit {done.returncode})' if done is not None else ''}; "
                         "check that the coder binary on PATH works (coder version).")


# -- decisions ---------------------------------------------------------------------------------------


def terminal_mode(*, platform: str, environ: Mapping[str, str], coder_binary: str | None) -> TerminalMode:
    """How terminals get the login (§13): the CLI uses its ``session`` file unless the OS is macOS
    or Windows, the directory is the default one and the keyring is not turned off; in that case
    the CLI's own login stores it (when a ``coder`` binary exists) or terminals need the private
    directory."""
    keyring = environ.get("CODER_USE_KEYRING", "true").strip().lower() not in ("false", "0", "no")
    if platform not in ("darwin", "win32") or environ.get("CODER_CONFIG_DIR", "").strip() or not keyring:
        return "files"
    return "cli" if coder_binary else "private"


def _terminal_dir(environ: Mapping[str, str], platform: str) -> Path:
    env = environ.get("CODER_CONFIG_DIR", "").strip()
    return Path(env).expanduser() if env else default_cli_config_dir(platform)


def terminal_share(store: Store) -> TerminalShare | None:
    """Where terminals share this deployment's login, or ``None`` when they don't."""
    record = store.load_record(RECORD)
    if record is None or record.get("mode") not in ("files", "cli", "private"):
        return None
    directory = str(record.get("dir", ""))
    instruction = f"export CODER_CONFIG_DIR={directory}" if record["mode"] == "private" else None
    return TerminalShare(record["mode"], directory, instruction)


# -- the mirror (the store's observer) -----------------------------------------------------------------


def mirror(store: Store, tokens: TokenSet | None) -> None:
    """Make the CLI's copies of ``store``'s login equal to ``tokens`` (``None``: the login is gone).

    The store calls this after every token save or delete. It never raises: a copy that cannot
    be written is logged (by path), and the login or refresh that triggered it stands.
    """
    try:
        with store.lock():
            if tokens is None:
                _remove_all(store)
            else:
                _write_all(store, tokens.access_token)
    except (OSError, CoderError) as exc:
        log.warning("could not update the Coder CLI's copy of the login to %s (%s)",
                    store.deployment_url, type(exc).__name__)


def _write_all(store: Store, token: str) -> None:
    _write_cli_files(private_dir(store), store.deployment_url, token, private=True)
    record = store.load_record(RECORD)
    if record is None or record.get("mode") == "private":
        return
    directory = Path(str(record.get("dir", "")))
    if record.get("mode") == "files":
        if not _same(_read_session(directory), record.get("sha256")):
            _stop(store, f"{directory / 'session'} now holds another session (coder login or logout?)")
            return
        _write_cli_files(directory, store.deployment_url, token, private=False)
    elif record.get("mode") == "cli":
        binary = shutil.which("coder")
        if binary is None:
            _stop(store, "the coder binary is no longer on PATH")
            return
        held = _cli_token(binary, store.deployment_url, subprocess.run)
        if held is not None and not _same(held, record.get("sha256")):
            _stop(store, "the Coder CLI now holds another session (coder login?)")
            return
        _cli_login(binary, store.deployment_url, token, subprocess.run)
    store.save_record(RECORD, {**record, "sha256": _digest(token)})


def _stop(store: Store, why: str) -> None:
    log.warning("stopped sharing the Coder login to %s with terminals: %s", store.deployment_url, why)
    store.delete_record(RECORD)


def _remove_all(store: Store) -> None:
    _remove_cli_files(private_dir(store), None)
    with contextlib.suppress(OSError):
        _remove_leftovers(private_dir(store))
    _remove_terminal(store, store.load_record(RECORD), run=subprocess.run)
    store.delete_record(RECORD)


def _remove_terminal(store: Store, record: dict[str, Any] | None, *, run: Runner) -> None:
    """Remove the terminal copy if its content is still ours."""
    if record is None:
        return
    directory = Path(str(record.get("dir", "")))
    if record.get("mode") == "files" and _same(_read_session(directory), record.get("sha256")):
        _remove_cli_files(directory, store.deployment_url)
    elif record.get("mode") == "cli":
        binary = shutil.which("coder")
        if binary is not None and _same(_cli_token(binary, store.deployment_url, run), record.get("sha256")):
            _run_cli(binary, ["logout", "--url", store.deployment_url, "--yes"], run=run)


# -- the explicit step for terminals ---------------------------------------------------------------


def share_terminals(
    store: Store,
    *,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    run: Runner = subprocess.run,
) -> TerminalShare:
    """Share the stored login with the Coder CLI in terminals (see the module docstring).

    Args:
        store: the deployment's store; it must hold a login (OAuth or a saved API token).
        force: replace a session someone else stored there (e.g. with ``coder login``).
        environ: the environment terminals inherit (default: :data:`os.environ`, the Jupyter
            server's when called from the server extension).
        platform, which, run: :data:`sys.platform`, :func:`shutil.which`, :func:`subprocess.run`
            (tests decide the macOS/Windows path with them).

    Raises:
        NotLoggedInError: nothing to share (the store holds no login).
        CliSessionConflictError: the CLI already holds another session and ``force`` is false.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    with store.lock():
        tokens = store.load_tokens()
        if tokens is None:
            raise NotLoggedInError(
                f"There is no notebook login to {store.deployment_url} to share with terminals. Log in first "
                "(click \"Log in\" or run %coder login), then share it.")
        token, url = tokens.access_token, store.deployment_url
        record = store.load_record(RECORD) or {}
        binary = which("coder")
        mode = terminal_mode(platform=platform, environ=environ, coder_binary=binary)
        if mode == "private":
            _write_cli_files(private_dir(store), url, token, private=True)
            directory = private_dir(store)
        elif mode == "files":
            directory = _terminal_dir(environ, platform)
            held = _read_session(directory)
            if held and not force and held != token and not _same(held, record.get("sha256")):
                raise CliSessionConflictError(
                    f"The Coder CLI in terminals already has a session ({directory / 'session'}), probably "
                    "from `coder login`; it was left alone. Run `%coder cli terminals --force` (or confirm "
                    "in JupyterLab) to replace it with the notebook's login, or `coder logout` first.")
            _write_cli_files(directory, url, token, private=False)
        else:
            assert binary is not None
            directory = _terminal_dir(environ, platform)
            held = _cli_token(binary, url, run)
            if held and not force and held != token and not _same(held, record.get("sha256")):
                raise CliSessionConflictError(
                    f"The Coder CLI already has a session for {url} in the OS keyring, probably from `coder "
                    "login`; it was left alone. Run `%coder cli terminals --force` (or confirm in "
                    "JupyterLab) to replace it with the notebook's login.")
            _cli_login(binary, url, token, run)
        store.save_record(RECORD, {"mode": mode, "dir": str(directory), "sha256": _digest(token)})
    share = terminal_share(store)
    assert share is not None
    return share


def stop_terminals(store: Store, *, run: Runner = subprocess.run) -> bool:
    """Stop sharing with terminals: remove the terminal copy if it is still ours and forget the
    target. Returns whether there was one. The private directory (kernels) is kept."""
    with store.lock():
        record = store.load_record(RECORD)
        _remove_terminal(store, record, run=run)
        store.delete_record(RECORD)
    return record is not None
