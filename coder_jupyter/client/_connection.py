"""Wiring: turn ``Coder(url, token=..., config=...)`` into a deployment URL, an :class:`httpx.Auth`
and the factories of the sync/async :mod:`httpx` clients. The one place the REST client meets
the login layer, kept small on purpose so it can change without touching the API code.

``coder.auth`` is an :class:`~coder_jupyter._login.AuthManager` whose
:class:`~coder_jupyter._auth.CoderAuth` signs every request (and refreshes OAuth tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from .._connection import make_async_client, make_client
from .._login import AuthManager

__all__ = ["Connection", "connect"]

@dataclass
class Connection:
    """What a client needs to talk to one deployment."""

    url: str
    auth: httpx.Auth
    manager: AuthManager  # ``coder.auth``
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
