"""The per-user credential store: files, permissions, atomic writes and a cross-process lock.

It knows files, not HTTP. The kernel, the Jupyter server (which finishes logins) and other
kernels of the same user share it; the store is the only way secrets travel between them.

Layout (the root is ``CODER_JUPYTER_DIR``, else ``<jupyter_data_dir>/coder_jupyter``)::

    <root>/                                   0700
      deployments/                            0700
        <host-slug>-<sha256(url)[:12]>/       0700, one per normalized deployment URL
          deployment.json                     {"url": ...}: which deployment this is (not secret)
          tokens.json                         TokenSet (access/refresh token)            SECRET
          registration.json                   ClientRegistration (client secret, RAT)    SECRET
          metadata.json                       {"fetched_at", "metadata"}: RFC 8414 cache
          account.json                        {"username", "id"}: shown in the status
          coder-cli/{url,session}             the Coder CLI's copy of the login (_cli_share)  SECRET
          cli-share.json                      where terminals share it (a hash, no secret)
          .lock                               filelock for read-modify-write sequences
      pending/                                0700
        <sha256(state)>.json                  PendingLogin (PKCE verifier)               SECRET
        <sha256(state)>.used                  empty tombstone: the state was consumed (replay)

Every file is written 0600 through a temporary file in the same directory
(``os.open(O_CREAT | O_EXCL | O_WRONLY, 0o600)``, write, ``fsync``, ``os.replace``), so a
reader sees the old file or the new one, never a partial one. Writes hold the lock; a process
killed mid-write leaves ``.<name>.<random>.tmp`` behind, which the next write (under the lock)
and a logout (:meth:`Store.delete_tokens`) remove.

**Permissions policy.** Directories are (re)set to 0700 whenever the store writes to them. A
file that is group- or world-accessible is repaired to 0600 and a warning is logged (the usual
cause is a copy or backup tool; refusing would only break the login, while the repair stops
further exposure).
A file owned by another user is ignored (treated as absent, with a warning): we never trust
credentials someone else could have planted. Unreadable or corrupt JSON is treated as absent and
logged by file name only, never with its content.

**Change stamps.** :meth:`Store.stamp` is one ``stat`` of ``tokens.json``. Each write gives the
file a new inode and an explicit, strictly increasing nanosecond mtime, so another process's
login, refresh or logout is noticed without reading or polling the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import time
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from ._oauth.models import AuthServerMetadata, ClientRegistration, PendingLogin, TokenSet
from .errors import CoderError, LoginStateError

__all__ = [
    "PendingLogins", "Store", "TokensObserver", "known_deployments", "store_root", "write_private_file",
]

log = logging.getLogger(__name__)

#: Environment variable naming the store's root directory.
ROOT_ENV = "CODER_JUPYTER_DIR"

# How long a consumed or cancelled state's tombstone ("already used", and how the login ended) is
# kept: three default login timeouts. Single use never depends on it (the pending file is renamed
# away, once); a later replay is still refused, as unknown instead of "already used".
_TOMBSTONE_TTL = 900.0
_ORPHAN_TTL = 3600.0  # a ``.taken`` file left by a process that died mid-take
#: The files :meth:`Store._save` writes (through ``.<name>.<random>.tmp``).
_SAVED_FILES = ("tokens.json", "registration.json", "metadata.json", "account.json")


def store_root(root: Path | str | None = None) -> Path:
    """The store's root directory: ``root`` if given, else ``$CODER_JUPYTER_DIR``, else
    ``jupyter_core.paths.jupyter_data_dir()/coder_jupyter``. Nothing is created here."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ROOT_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "coder_jupyter"


def deployment_dir_name(deployment_url: str) -> str:
    """``<host-slug>-<sha256(url)[:12]>``: readable and collision-free for a normalized URL."""
    host = urlsplit(deployment_url).hostname or "deployment"
    slug = re.sub(r"[^a-z0-9.-]+", "-", host.lower()).strip("-.")[:40] or "deployment"
    return f"{slug}-{hashlib.sha256(deployment_url.encode()).hexdigest()[:12]}"


def known_deployments(*, root: Path | str | None = None) -> list[str]:
    """The deployment URLs that have a directory in the store (sorted; unreadable ones skipped)."""
    base = store_root(root) / "deployments"
    urls = []
    with contextlib.suppress(OSError):
        for child in base.iterdir():
            data = _read_json(child / "deployment.json")
            if data is not None and isinstance(data.get("url"), str):
                urls.append(data["url"])
    return sorted(urls)


# -- file primitives -------------------------------------------------------------------------------


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)  # absent on Windows, where modes mean little anyway
    return getuid() if getuid is not None else None


def _ensure_dir(path: Path) -> None:
    """Create ``path`` (and parents) 0700; repair the mode of an existing directory we own."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid == _uid() and stat.S_IMODE(st.st_mode) != 0o700:
        path.chmod(0o700)


def _write_json(path: Path, data: dict[str, Any], *, mtime_ns: int | None = None) -> None:
    """Atomically replace ``path`` with ``data`` as JSON, mode 0600."""
    write_private_file(path, json.dumps(data, indent=1, sort_keys=True).encode(), mtime_ns=mtime_ns)


def write_private_file(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    """Atomically replace ``path`` with exactly ``data``, mode 0600 (temporary file in the same
    directory, ``fsync``, ``os.replace``): a reader sees the old content or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` if absent, corrupt, foreign-owned or not an object.

    Group/world-accessible files are repaired to 0600 first (see the module docstring).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring %s: cannot open it (%s)", path, type(exc).__name__)
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if _uid() is not None and st.st_uid != _uid():
            log.warning("ignoring %s: it is owned by another user (uid %d)", path, st.st_uid)
            return None
        if stat.S_IMODE(st.st_mode) & 0o077:
            log.warning("%s was accessible to other users (mode %o); restricting it to 0600",
                        path, stat.S_IMODE(st.st_mode))
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o600)
        raw = f.read()
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, type(exc).__name__)
        return None
    if not isinstance(data, dict):
        log.warning("ignoring unreadable %s (not a JSON object)", path)
        return None
    return data


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` (from JSON) has the type ``hint`` names (the shapes the models use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint in (str, int, bool):
        return isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
    return True


def _decode(cls: Any, data: dict[str, Any] | None, path: Path) -> Any:
    if data is None:
        return None
    # A file someone edited (or a format from another version) must read as absent, not as a
    # token that is a number or a state that is null.
    hints = typing.get_type_hints(cls)
    wrong = [f.name for f in dataclasses.fields(cls)
             if f.name in data and not _fits(data[f.name], hints[f.name])]
    if wrong:
        log.warning("ignoring unreadable %s (bad %s)", path, ", ".join(wrong))
        return None
    try:
        return cls.from_json(data)
    except (TypeError, ValueError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, type(exc).__name__)
        return None


# -- per-deployment store --------------------------------------------------------------------------

#: Called by :meth:`Store.save_tokens` (with the tokens) and :meth:`Store.delete_tokens` (with
#: ``None``) after the file changed, under whatever lock the writer holds.
TokensObserver = Callable[["Store", "TokenSet | None"], None]


class Store:
    """The credentials of one deployment: tokens, client registration, metadata cache, account.

    Args:
        deployment_url: the deployment, already normalized (:func:`coder_jupyter._config.normalize_url`);
            the directory is keyed by this exact string.
        root: the store root (default: :func:`store_root`).
        on_tokens: told of every token save and delete (``_credentials.store_for`` passes the
            Coder CLI mirror, :mod:`coder_jupyter._cli_share`); it must not raise.

    Loads never raise for a missing, corrupt or foreign file: they return ``None``. Writes raise
    :class:`OSError` if the disk refuses. Single writes are atomic on their own; take
    :meth:`lock` around read-modify-write sequences (a refresh, a login) that other processes
    must not interleave with.
    """

    def __init__(self, deployment_url: str, *, root: Path | str | None = None,
                 on_tokens: TokensObserver | None = None) -> None:
        self.deployment_url = deployment_url
        self.root = store_root(root)
        self.path = self.root / "deployments" / deployment_dir_name(deployment_url)
        self.on_tokens = on_tokens

    def __repr__(self) -> str:
        return f"Store({self.deployment_url!r}, path={str(self.path)!r})"

    def _prepare(self) -> None:
        for d in (self.root, self.root / "deployments", self.path):
            _ensure_dir(d)
        marker = self.path / "deployment.json"
        if not marker.exists():
            _write_json(marker, {"url": self.deployment_url})

    def _save(self, name: str, data: dict[str, Any], *, mtime_ns: int | None = None) -> None:
        # Every write holds the lock, so whoever holds it knows no write is in flight and may
        # remove the temporary files a killed process left behind.
        with self.lock():
            self.remove_leftovers()
            _write_json(self.path / name, data, mtime_ns=mtime_ns)

    def remove_leftovers(self) -> int:
        """Remove temporary files left by a process killed mid-write (they may hold tokens or the
        client secret). Call with :meth:`lock` held; every write and :meth:`delete_tokens` does.

        Returns:
            How many files were removed.
        """
        removed = 0
        for name in _SAVED_FILES:
            for leftover in self.path.glob(f".{name}.*.tmp"):
                removed += _unlink(leftover)
        if removed:
            log.info("removed %d temporary file(s) left in %s by an interrupted write", removed, self.path)
        return removed

    # -- lock

    @contextlib.contextmanager
    def lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold this deployment's cross-process lock (a :class:`filelock.FileLock`).

        Reentrant within a thread (nested ``with store.lock():`` is fine, also across ``Store``
        objects of the same deployment); other threads and processes wait.

        Raises:
            CoderError: not acquired within ``timeout`` seconds (another process holds it).
        """
        self._prepare()
        lock = FileLock(self.path / ".lock", mode=0o600, is_singleton=True)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise CoderError(
                f"The credential store for {self.deployment_url} stayed locked for {timeout:g} s by another "
                f"process. Try again; if it persists, check for hung kernels ({self.path / '.lock'})."
            ) from None
        try:
            yield
        finally:
            lock.release()

    # -- tokens

    def load_tokens(self) -> TokenSet | None:
        """The stored tokens, or ``None``."""
        path = self.path / "tokens.json"
        tokens: TokenSet | None = _decode(TokenSet, _read_json(path), path)
        return tokens

    def save_tokens(self, tokens: TokenSet) -> None:
        """Store ``tokens`` (0600, atomic); moves :meth:`stamp`."""
        path = self.path / "tokens.json"
        now = time.time_ns()
        with contextlib.suppress(OSError):
            now = max(now, path.stat().st_mtime_ns + 1)
        self._save("tokens.json", tokens.to_json(), mtime_ns=now)
        if self.on_tokens is not None:
            self.on_tokens(self, tokens)

    def delete_tokens(self) -> None:
        """Forget the tokens (idempotent) and any leftover temporary copy of them (or of another
        store file); :meth:`stamp` becomes ``None``."""
        if not self.path.is_dir():
            return
        with self.lock():
            _unlink(self.path / "tokens.json")
            self.remove_leftovers()
            if self.on_tokens is not None:
                self.on_tokens(self, None)

    def stamp(self) -> tuple[int, int] | None:
        """A cheap change token for the tokens: ``(st_mtime_ns, st_ino)`` of ``tokens.json``, or
        ``None`` when there are none. Compare it with the last one seen to notice that another
        process logged in, refreshed or logged out (one ``stat``, no read)."""
        try:
            st = (self.path / "tokens.json").stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    # -- client registration

    def load_registration(self) -> ClientRegistration | None:
        """The OAuth client registered for this deployment (dynamic, RFC 7591), or ``None``."""
        path = self.path / "registration.json"
        registration: ClientRegistration | None = _decode(ClientRegistration, _read_json(path), path)
        return registration

    def save_registration(self, registration: ClientRegistration) -> None:
        """Store the client registration (it holds the client secret: 0600, atomic)."""
        self._save("registration.json", registration.to_json())

    def delete_registration(self) -> None:
        """Forget the client registration (idempotent)."""
        _unlink(self.path / "registration.json")

    # -- metadata cache

    def load_metadata(
        self, *, max_age: float | None = None, now: float | None = None,
    ) -> AuthServerMetadata | None:
        """The cached RFC 8414 metadata, or ``None`` if absent or older than ``max_age`` seconds
        (``None``: any age). ``now`` defaults to :func:`time.time`."""
        path = self.path / "metadata.json"
        data = _read_json(path)
        if data is None:
            return None
        fetched_at = data.get("fetched_at")
        if max_age is not None:
            current = time.time() if now is None else now
            if not isinstance(fetched_at, (int, float)) or current - fetched_at > max_age:
                return None
        inner = data.get("metadata")
        metadata: AuthServerMetadata | None = _decode(
            AuthServerMetadata, inner if isinstance(inner, dict) else None, path)
        return metadata

    def save_metadata(self, metadata: AuthServerMetadata, *, now: float | None = None) -> None:
        """Cache the metadata, fetched at ``now`` (default: :func:`time.time`)."""
        self._save("metadata.json", {"fetched_at": time.time() if now is None else now,
                                     "metadata": metadata.to_json()})

    # -- small records of other modules (e.g. where the Coder CLI shares this login)

    def load_record(self, name: str) -> dict[str, Any] | None:
        """The JSON object another module keeps in this deployment's directory, or ``None``."""
        return _read_json(self.path / name)

    def save_record(self, name: str, data: dict[str, Any]) -> None:
        """Keep ``data`` as ``name`` in this deployment's directory (0600, atomic)."""
        self._save(name, data)

    def delete_record(self, name: str) -> None:
        """Forget the record ``name`` (idempotent)."""
        _unlink(self.path / name)

    # -- account (not secret)

    def load_account(self) -> dict[str, Any] | None:
        """Who the stored credentials belong to (``{"username", "id"}``), or ``None``."""
        return _read_json(self.path / "account.json")

    def save_account(self, account: dict[str, Any]) -> None:
        """Remember who the credentials belong to (shown by the status; never a secret)."""
        self._save("account.json", dict(account))

    def delete_account(self) -> None:
        """Forget the account (idempotent)."""
        _unlink(self.path / "account.json")


# -- pending logins ---------------------------------------------------------------------------------


def _state_key(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _same_deployment(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class PendingLogins:
    """Logins in flight, keyed by ``state``, shared by every process of the user.

    A kernel :meth:`put`\\ s a login; whichever process receives the callback (usually the Jupyter
    server) :meth:`take`\\ s it, knowing only the ``state``. File names are ``sha256(state)``, so
    the state itself is never a file name.

    Args:
        root: the store root (default: :func:`store_root`).
    """

    def __init__(self, *, root: Path | str | None = None) -> None:
        self.root = store_root(root)
        self.path = self.root / "pending"

    def __repr__(self) -> str:
        return f"PendingLogins(path={str(self.path)!r})"

    def _prepare(self) -> None:
        _ensure_dir(self.root)
        _ensure_dir(self.path)

    def put(self, pending: PendingLogin) -> None:
        """Record a pending login (it holds the PKCE verifier: 0600, atomic). Expired ones are
        purged first, on the caller's clock (``pending.created_at``)."""
        self._prepare()
        if pending.created_at:
            self.purge_expired(now=pending.created_at)
        _write_json(self.path / f"{_state_key(pending.state)}.json", pending.to_json())

    def take(self, state: str, *, now: float | None = None) -> PendingLogin:
        """Consume the pending login for ``state``: single use, even across racing processes
        (the file is renamed away before it is read, and only one rename can win).

        Raises:
            LoginStateError: unknown, already used or expired. The message never contains the
                state and says to start a new login.
        """
        current = time.time() if now is None else now
        key = _state_key(state)
        source = self.path / f"{key}.json"
        claimed = self.path / f".{key}.{os.getpid()}.{secrets.token_hex(4)}.taken"
        try:
            source.rename(claimed)
        except FileNotFoundError:
            # The tombstone is written before the claimed file is removed, so a racing loser
            # sees one or the other and is told "already used", never "unknown".
            if (self.path / f"{key}.used").exists() or any(self.path.glob(f".{key}.*.taken")):
                raise LoginStateError(
                    "This login was already completed or cancelled (its link can be used once). "
                    "Click \"Log in\" to start a new login.", error="invalid_state") from None
            raise LoginStateError(
                "This login is unknown here: it was already used or cancelled, expired and was cleaned up, "
                "or the link is not from this Jupyter. Click \"Log in\" to start a new login.",
                error="invalid_state") from None
        self._tombstone(key)
        try:
            pending: PendingLogin | None = _decode(PendingLogin, _read_json(claimed), claimed)
        finally:
            _unlink(claimed)
            self._purge_leftovers(current)
        if pending is None or not hmac.compare_digest(pending.state.encode(), state.encode()):
            raise LoginStateError(
                "This login's record was unreadable. Click \"Log in\" to start a new login.",
                error="invalid_state")
        if pending.expires_at and current >= pending.expires_at:
            raise LoginStateError(
                "This login expired before it was completed. Click \"Log in\" to start again.",
                error="invalid_state")
        return pending

    def _tombstone(self, key: str) -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(self.path / f"{key}.used", os.O_CREAT | os.O_WRONLY, 0o600))

    def record_outcome(self, state: str, *, ok: bool, error: str | None = None,
                       message: str | None = None) -> None:
        """Say how a consumed login ended, for the process that started it.

        The Jupyter server finishes logins that a kernel started; when the callback carries
        ``access_denied`` or the exchange fails, the kernel learns it from here instead of
        waiting for its timeout. ``error`` is the OAuth error code and ``message`` the
        (secret-free) text shown to the user; both are written into the state's tombstone.
        """
        self._prepare()
        outcome = {"ok": ok, "error": error, "message": message}
        with contextlib.suppress(OSError):
            _write_json(self.path / f"{_state_key(state)}.used", outcome)

    def outcome(self, state: str) -> dict[str, Any] | None:
        """How the login for ``state`` ended (see :meth:`record_outcome`), or ``None`` while it
        is pending, after a plain cancel, or when nothing was recorded."""
        path = self.path / f"{_state_key(state)}.used"
        try:
            if path.stat().st_size == 0:
                return None
        except OSError:
            return None
        return _read_json(path)

    def forget_outcome(self, state: str) -> None:
        """The starting process has learned how the login for ``state`` ended: drop its
        tombstone (a replay of ``state`` is still refused, as unknown). Idempotent."""
        _unlink(self.path / f"{_state_key(state)}.used")

    def discard(self, state: str) -> None:
        """Forget the pending login for ``state`` if it is still there (idempotent, never raises
        for an unknown state). Use it to cancel; a later callback with that state is refused."""
        key = _state_key(state)
        if _unlink(self.path / f"{key}.json"):
            self._tombstone(key)

    def _live(self, now: float) -> Iterator[tuple[Path, PendingLogin | None]]:
        with contextlib.suppress(OSError):
            for path in self.path.glob("*.json"):
                yield path, _decode(PendingLogin, _read_json(path), path)

    def purge_expired(self, *, now: float | None = None) -> int:
        """Delete expired or unreadable pending logins, old tombstones and files orphaned by a
        process that died mid-take. Returns how many pending logins were removed."""
        current = time.time() if now is None else now
        removed = 0
        for path, pending in self._live(current):
            if (pending is None or (pending.expires_at and current >= pending.expires_at)) and _unlink(path):
                removed += 1
        self._purge_leftovers(current)
        return removed

    def _purge_leftovers(self, now: float) -> None:
        """Old tombstones, and files orphaned by a process that died mid-take or mid-write."""
        with contextlib.suppress(OSError):
            for path in [*self.path.glob("*.used"), *self.path.glob(".*.taken"), *self.path.glob(".*.tmp")]:
                ttl = _TOMBSTONE_TTL if path.suffix == ".used" else _ORPHAN_TTL
                with contextlib.suppress(OSError):
                    if now - path.stat().st_mtime > ttl:
                        path.unlink()

    def latest_for(self, deployment_url: str | None, *, now: float | None = None,
                   cancel_without_state: bool = False) -> PendingLogin | None:
        """The one live pending login for ``deployment_url`` (``None``: any deployment).

        For old Coder (G1), whose Cancel redirect carries no ``state``: the login it belongs to is
        found by elimination. Returns ``None`` when there is none **or more than one** (guessing
        would fail somebody else's login). With ``cancel_without_state``, only logins of
        deployments configured as omitting ``state`` count (any web page can send a browser to
        the callback with a state-less ``error=``; it must not cancel anyone else's login).
        """
        current = time.time() if now is None else now
        live = [p for _, p in self._live(current)
                if p is not None and not (p.expires_at and current >= p.expires_at)
                and (deployment_url is None or _same_deployment(p.deployment_url, deployment_url))
                and (p.cancel_without_state or not cancel_without_state)]
        return live[0] if len(live) == 1 else None
