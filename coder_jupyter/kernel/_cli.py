"""The kernel's half of sharing the login with the Coder CLI: ``CODER_CONFIG_DIR`` for cells.

The store keeps a private CLI config directory equal to the login (:mod:`coder_jupyter._cli_share`).
Before every cell (an IPython ``pre_run_cell`` hook, cheap: environment reads and a ``stat``):

* while that directory holds a session, ``CODER_CONFIG_DIR`` points at it in this kernel's
  environment, so ``!coder …`` and ``subprocess.run(["coder", …])`` use the notebook's login — a
  login, refresh or logout in another kernel or the Jupyter server is seen at the next cell;
  when it holds none (logged out), the variable we set is removed again;
* a ``CODER_CONFIG_DIR``, ``CODER_SESSION_TOKEN`` or (another deployment's) ``CODER_URL`` that
  the user set is never overwritten; the status says why the CLI does not share the login;
* a stored OAuth access token that expires within :data:`REFRESH_AHEAD` seconds is refreshed
  (network only then), so the CLI's copy stays valid although the CLI never refreshes.
  Failures are logged as a warning, never raised into the user's cell.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from .._cli_share import (
    TerminalShare,
    is_private_dir,
    private_dir,
    private_session_exists,
    share_terminals,
    stop_terminals,
    terminal_share,
)
from .._config import same_url
from .._store import Store
from ..errors import CoderError

__all__ = ["REFRESH_AHEAD", "KernelCli"]

log = logging.getLogger(__name__)

#: Refresh a stored OAuth access token this many seconds before it expires.
REFRESH_AHEAD = 300.0

_VAR = "CODER_CONFIG_DIR"


class KernelCli:
    """Keeps this kernel's ``CODER_CONFIG_DIR`` and the stored login fresh for the Coder CLI.

    Args:
        session: the :class:`~coder_jupyter.kernel.extension.KernelSession` (its current client's
            ``auth`` says which deployment and store).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        #: The value we put in ``CODER_CONFIG_DIR`` (``None``: we set nothing).
        self.set_by_us: str | None = None
        #: Why cells do not share the login (the user's own variables), or ``None``.
        self.blocked: str | None = None

    def _auth(self) -> Any:
        try:
            return getattr(self.session.client, "auth", None)
        except CoderError:  # the NoDeployment placeholder answers every attribute with an error
            return None

    def _store(self) -> Store | None:
        auth = self._auth()
        store = getattr(auth, "store", None)
        return store if isinstance(store, Store) and getattr(store, "on_tokens", None) is not None else None

    # -- the environment ----------------------------------------------------------------------------

    def sync(self) -> None:
        """Point ``CODER_CONFIG_DIR`` at the private directory while it holds a session; remove
        what we set when it does not (or when the deployment changed)."""
        store = self._store()
        self.blocked = self._reason(store) if store is not None else None
        if store is None or self.blocked is not None or not private_session_exists(store):
            self._unset()
            return
        wanted = str(private_dir(store))
        os.environ[_VAR] = wanted
        self.set_by_us = wanted

    def _reason(self, store: Store) -> str | None:
        env = os.environ
        current = env.get(_VAR, "").strip()
        if current and current != self.set_by_us and not is_private_dir(Path(current), store.root):
            return f"CODER_CONFIG_DIR is set to {current} in this kernel; it was left alone"
        if env.get("CODER_SESSION_TOKEN", "").strip():
            return "CODER_SESSION_TOKEN is set in this kernel, and the CLI uses it"
        url = env.get("CODER_URL", "").strip()
        if url and not same_url(url, store.deployment_url):
            return f"CODER_URL names another deployment ({url}), and the CLI uses it"
        return None

    def _unset(self) -> None:
        if self.set_by_us is not None and os.environ.get(_VAR) == self.set_by_us:
            del os.environ[_VAR]
        self.set_by_us = None

    def environ_without_ours(self) -> dict[str, str]:
        """This kernel's environment as it was before we set ``CODER_CONFIG_DIR``."""
        env = dict(os.environ)
        if self.set_by_us is not None and env.get(_VAR) == self.set_by_us:
            del env[_VAR]
        return env

    # -- freshness ----------------------------------------------------------------------------------

    def refresh_if_due(self) -> None:
        """Refresh the stored OAuth tokens if they expire within :data:`REFRESH_AHEAD` seconds."""
        auth = self._auth()
        credentials = getattr(auth, "credentials", None)
        if credentials is None:
            return
        tokens, source = credentials.resolve()
        if (source == "store" and tokens is not None and tokens.refresh_token is not None
                and tokens.expires_within(REFRESH_AHEAD, now=time.time())):
            credentials.refresh(tokens)

    def before_cell(self, *_: Any) -> None:
        """The ``pre_run_cell`` hook: never raises into the user's cell."""
        try:
            self.refresh_if_due()
        except Exception as exc:  # a failed refresh must not break the user's cell
            log.warning("Refreshing the Coder login for the CLI failed: %s", type(exc).__name__)
        try:
            self.sync()
        except Exception as exc:
            log.warning("Updating CODER_CONFIG_DIR for the Coder CLI failed: %s", type(exc).__name__)

    def register(self, shell: Any) -> None:
        """Install :meth:`before_cell` and run it once now (``%load_ext`` revives a copy that
        expired while nothing ran)."""
        shell.events.register("pre_run_cell", self.before_cell)
        self.before_cell()

    def unregister(self, shell: Any) -> None:
        """Remove the hook and the variable we set."""
        with contextlib.suppress(ValueError):
            shell.events.unregister("pre_run_cell", self.before_cell)
        self._unset()

    # -- terminals and status -------------------------------------------------------------------------

    def share_terminals(self, *, force: bool = False) -> TerminalShare:
        """:func:`coder_jupyter._cli_share.share_terminals` for this deployment, judged on the
        environment terminals inherit (this kernel's, without the variable we set)."""
        store = self._require_store()
        return share_terminals(store, force=force, environ=self.environ_without_ours())

    def stop_terminals(self) -> bool:
        """:func:`coder_jupyter._cli_share.stop_terminals` for this deployment."""
        return stop_terminals(self._require_store())

    def _require_store(self) -> Store:
        from ..errors import NotLoggedInError

        store = self._store()
        if store is None:
            raise NotLoggedInError("No Coder deployment chosen — run %coder use <url> first.")
        return store

    def status_lines(self) -> list[str]:
        """``CLI (cells)`` and ``CLI (terminals)`` lines for ``%coder status`` (never a secret)."""
        store = self._store()
        if store is None:
            return []
        if self.blocked is not None:
            cells = f"not shared: {self.blocked}"
        elif self.set_by_us is not None:
            cells = f"shared (CODER_CONFIG_DIR={self.set_by_us})"
        else:
            cells = "not shared (no notebook login to share)"
        share = terminal_share(store)
        return [f"CLI cells:  {cells}",
                f"CLI terms:  {share.describe() if share is not None else 'off (run %coder cli terminals)'}"]
