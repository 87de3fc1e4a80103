"""The server extension's only door into the login layer: the OAuth engine
(:mod:`coder_jupyter._engine`) for the callback and the redirect policy, and a session manager
(:mod:`coder_jupyter._login`) of the configured deployment for status, login, logout and cancel.

Handlers call these blocking methods from a worker thread. Keeping them here means the
handlers know HTTP and pages, and this module knows which engine calls answer them.

The deployment the JSON routes act on is the one configured for Jupyter: ``CODER_URL`` or
``c.CoderConfig.url`` in a Jupyter server config file (``jupyter_server_config.py``), read by
the config layer with the server extension as its traitlets parent. The callback route needs no
configuration: the pending login named by ``state`` says which deployment it belongs to.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from traitlets.config import Configurable

from .._cli_share import (
    TerminalShare,
    private_dir,
    private_session_exists,
    share_terminals,
    stop_terminals,
    terminal_share,
)
from .._config import CoderConfig
from .._credentials import store_for
from .._engine import finish_login
from .._login import AuthManager, AuthStatus, LoginStarted, LogoutReport
from .._store import known_deployments
from ..errors import CoderError, ConfigurationError

log = logging.getLogger(__name__)

__all__ = ["LoginBackend"]


class LoginBackend:
    """Login operations for the server extension.

    Args:
        parent: the extension app; its traitlets config (``c.CoderConfig.*``) configures the
            deployment, TLS and headers exactly as in a kernel.
    """

    def __init__(self, parent: Configurable | None = None) -> None:
        self._parent = parent
        self._lock = threading.Lock()
        self._manager: AuthManager | None = None
        self._manager_url: str | None = None

    def _config(self) -> CoderConfig:
        return CoderConfig(parent=self._parent)

    def configured_url(self) -> str | None:
        """The configured deployment URL (normalized), or ``None`` when none is configured."""
        url: str | None = self._config().resolved_url()
        return url or None

    def manager(self) -> AuthManager | None:
        """The :class:`AuthManager` of the configured deployment (reused while the URL is unchanged)."""
        config = self._config()
        url = config.resolved_url() or None
        if url is None:
            return None
        with self._lock:
            if self._manager is None or self._manager_url != url:
                self._manager = AuthManager(url, config=config)
                self._manager_url = url
            return self._manager

    def _require(self) -> AuthManager:
        manager = self.manager()
        if manager is None:
            raise ConfigurationError(
                "No Coder deployment is configured for this Jupyter server. Set CODER_URL, or "
                "c.CoderConfig.url in jupyter_server_config.py, and restart the server."
            )
        return manager

    def complete(self, params: Mapping[str, str]) -> AuthStatus:
        """Finish the login named by ``params["state"]`` (:func:`coder_jupyter._engine.finish_login`)."""
        return finish_login(params, config=self._config())

    def status(self) -> AuthStatus | None:
        """The configured deployment's status, or ``None`` when no deployment is configured."""
        manager = self.manager()
        return None if manager is None else manager.status()

    def deployments_in_use(self) -> int:
        """How many deployments this user works with: the configured one, the named ones
        (``c.CoderConfig.deployments``) and those with a login in the store. The status bar
        names the host in its text when there are several."""
        config = self._config()
        urls = {u.rstrip("/").lower() for u in known_deployments(root=config.store_root())}
        urls |= {str(u).rstrip("/").lower() for u in config.deployments.values()}
        current = config.resolved_url()
        if current:
            urls.add(current.rstrip("/").lower())
        return len(urls)

    def begin_login(self, redirect_uri: str) -> LoginStarted:
        """Start an OAuth login whose callback is ``redirect_uri`` (or the admin's fixed
        ``oauth_redirect_uri``, e.g. JupyterHub's user-redirect URL for a pre-registered app)."""
        manager = self._require()
        return manager.begin_login(manager.engine.server_redirect_uri(redirect_uri))

    def logout(self) -> LogoutReport:
        """Revoke and forget the credentials of the configured deployment."""
        return self._require().logout()

    def cancel(self) -> None:
        """Drop the configured deployment's pending login, if any."""
        self._require().cancel_login()

    # -- the Coder CLI -------------------------------------------------------------------------------

    def cli_status(self) -> dict[str, Any]:
        """Where the Coder CLI shares the configured deployment's login (public: paths, no secret)."""
        manager = self._require()
        share = terminal_share(manager.store)
        kernels = private_dir(manager.store) if private_session_exists(manager.store) else None
        return {
            "deployment": manager.deployment_url,
            "kernels": str(kernels) if kernels is not None else None,
            "terminals": None if share is None else {
                "mode": share.mode, "directory": share.directory, "instruction": share.instruction,
                "description": share.describe(),
            },
        }

    def share_terminals(self, *, force: bool = False) -> TerminalShare:
        """Share the login with ``coder`` in terminals (the server's environment decides where)."""
        return share_terminals(self._require().store, force=force)

    def stop_terminals(self) -> bool:
        """Stop sharing with terminals (removes only our own copy)."""
        return stop_terminals(self._require().store)

    def keep_cli_fresh(self, ahead: float) -> int:
        """Refresh every stored OAuth login that terminals share and that expires within ``ahead``
        seconds (the server outlives kernels; the refresh rewrites the CLI's copies). Cross-process
        safe: :meth:`Credentials.refresh` adopts a refresh another process already made. Returns
        how many were refreshed; failures are logged, never raised."""
        config = self._config()
        refreshed = 0
        for url in known_deployments(root=config.store_root()):
            store = store_for(config, url)
            tokens = store.load_tokens()
            if (terminal_share(store) is None or tokens is None or tokens.refresh_token is None
                    or not tokens.expires_within(ahead, now=time.time())):
                continue
            try:
                AuthManager(url, config=config).credentials.refresh(tokens)
                refreshed += 1
            except CoderError as exc:
                log.warning("keeping the Coder CLI's login to %s fresh failed: %s", url, type(exc).__name__)
        return refreshed

    def close(self) -> None:
        """Forget the cached manager (it holds no connection: each request opens its own)."""
        with self._lock:
            self._manager = None
