"""Wiring: turn ``Coder(url, token=..., config=...)`` into a deployment URL, an :class:`httpx.Auth`
and the factories of the sync/async :mod:`httpx` clients. The one place the REST client meets
the login layer, kept small on purpose so it can change without touching the API code.

With the login layer present, ``coder.auth`` is an :class:`~coder_jupyter._login.AuthManager`
whose :class:`~coder_jupyter._auth.CoderAuth` signs every request (and refreshes OAuth tokens).
Without it (a trimmed install, or while it is being written), a fixed token — the ``token``
argument or ``CODER_SESSION_TOKEN`` — signs requests with ``Coder-Session-Token``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

import httpx

from .._transport import not_logged_in_message
from ..errors import ConfigurationError, NotLoggedInError

__all__ = ["Connection", "connect"]

SESSION_HEADER = "Coder-Session-Token"
USER_AGENT = "coder-jupyter"


class _TokenAuth(httpx.Auth):
    """Signs with a fixed session token; without one, fails before anything is sent."""

    def __init__(self, url: str, token: str | None) -> None:
        self._url = url
        self._token = token

    def __repr__(self) -> str:
        return f"_TokenAuth({self._url!r}, token={'set' if self._token else 'none'})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._token:
            raise NotLoggedInError(not_logged_in_message(self._url))
        request.headers[SESSION_HEADER] = self._token
        yield request


@dataclass
class Connection:
    """What a client needs to talk to one deployment."""

    url: str
    auth: httpx.Auth
    manager: Any  # the AuthManager (``coder.auth``), or None without the login layer
    make_client: Callable[[], httpx.Client]
    make_async_client: Callable[[], httpx.AsyncClient]


def connect(url: str | None, *, token: str | None, config: Any, timeout: float | None) -> Connection:
    """Resolve the deployment and credentials for a new client.

    Args:
        url: the deployment, or ``None`` for ``CODER_URL`` / the configuration.
        token: an explicit token (wins over every other credential; never stored).
        config: a ``CoderConfig`` or ``None`` (read from the environment).
        timeout: seconds per request, or ``None`` for the configuration's timeout.

    Raises:
        ConfigurationError: no URL was given and ``CODER_URL`` is not set (or a bad TLS file).
    """
    try:
        from .._config import make_async_client, make_client
        from .._login import AuthManager
    except ImportError:  # the login layer is not available: fixed-token mode
        return _fixed_token(url, token, timeout)
    manager = AuthManager(url, token=token, config=config)
    settings = manager.settings if timeout is None else replace(manager.settings, timeout=timeout)
    auth = manager.httpx_auth
    return Connection(
        manager.deployment_url,
        auth,
        manager,
        lambda: make_client(settings, auth=auth),
        lambda: make_async_client(settings, auth=auth),
    )


def _fixed_token(url: str | None, token: str | None, timeout: float | None) -> Connection:
    resolved = url or os.environ.get("CODER_URL")
    if not resolved:
        raise ConfigurationError(
            "No Coder deployment URL: pass Coder('https://coder.example.com') or set CODER_URL."
        )
    resolved = resolved.strip().rstrip("/")
    if not resolved.startswith(("http://", "https://")):
        resolved = "https://" + resolved
    auth = _TokenAuth(resolved, token or os.environ.get("CODER_SESSION_TOKEN"))
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(timeout or 30.0),
        "headers": {"User-Agent": USER_AGENT},
        "auth": auth,
    }
    return Connection(
        resolved, auth, None, lambda: httpx.Client(**options), lambda: httpx.AsyncClient(**options)
    )
