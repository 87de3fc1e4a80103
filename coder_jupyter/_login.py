"""CONTRACT STUB (the lead wrote the signatures; the OAuth-engine engineer implements them).

The login manager: ``coder.auth``. It orchestrates discovery → registration → PKCE/state →
authorization URL → callback → code exchange → store, plus token login, loopback (RFC 8252),
out-of-band codes, status and logout. It is the only public entry to authentication; the widget,
the magics, the server extension and the REST client all go through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

LoginMethod = Literal["oauth", "token", "env", "cli"]
LoginStatus = Literal["logged_out", "waiting", "logged_in", "expired", "error"]


@dataclass(frozen=True)
class AuthStatus:
    """What the widget, ``%coder status`` and the status bar show. Never holds a secret."""

    deployment_url: str
    status: LoginStatus
    method: LoginMethod | None = None
    username: str | None = None
    expires_at: float | None = None
    error: str | None = None
    oauth_available: bool | None = None  # None = not discovered yet


@dataclass(frozen=True)
class LoginStarted:
    """Returned by :meth:`AuthManager.begin_login`: open ``authorization_url`` in a browser."""

    authorization_url: str
    redirect_uri: str
    expires_at: float
    state: str = field(repr=False)


@dataclass(frozen=True)
class LogoutReport:
    """What :meth:`AuthManager.logout` achieved; each step is ``"ok"``, ``"skipped"`` or an error text."""

    revoked: str
    local_credentials: str
    registration: str


class AuthManager:
    """``coder.auth`` — see the module docstring. Sync API; ``a``-prefixed awaitables where useful.

    Methods (signatures fixed):
        status() -> AuthStatus
        begin_login(redirect_uri: str | None = None, *, timeout: float = 300.0) -> LoginStarted
        finish_login(callback_url_or_params: str | Mapping[str, str]) -> AuthStatus
        cancel_login() -> None
        login_with_token(token: str, *, persist: bool = True) -> AuthStatus
        login_loopback(*, open_browser: bool = True, timeout: float = 300.0) -> AuthStatus
        login_oob(*, prompt: Callable[[str], str] | None = None, timeout: float = 300.0) -> AuthStatus
        logout(*, delete_registration: bool = False) -> LogoutReport
        wait_for_login(timeout: float | None = None) -> AuthStatus
        async await_login(timeout: float | None = None) -> AuthStatus
        changed() -> bool        # cheap: did another process log in / refresh / log out?
    """


def complete_login(params: Mapping[str, str]) -> AuthStatus:
    """Finish a login from a callback's query parameters, in any process (the server extension)."""
    raise NotImplementedError
