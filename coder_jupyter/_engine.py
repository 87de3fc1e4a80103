"""The OAuth engine of one deployment: discovery and registration caches, begin a login, finish
it by ``state``, revoke, and the redirect-URI policy.

Every method is public and blocking; nothing here keeps a session. The session manager
(:class:`coder_jupyter._login.AuthManager`, ``coder.auth``) and the server extension both drive
this engine directly. The protocol itself is sans-IO in :mod:`coder_jupyter._oauth` and
:mod:`coder_jupyter._flows`; this module wires it to the store, the configuration and the
network. Refreshing a session lives with request signing (:class:`coder_jupyter._auth.Credentials`),
which must refresh under the store's lock in the middle of a request.

Headless::

    engine = OAuthEngine("https://coder.example.com")
    started = engine.begin_login("http://127.0.0.1:8123/callback")
    started.authorization_url                    # open this in a browser
    finish_login("http://127.0.0.1:8123/callback?code=...&state=...")   # any process

One step, one name: :func:`finish_login` (any process: the pending login named by ``state`` says
which deployment), :meth:`OAuthEngine.finish_login` (the same, preferring this engine) and
:meth:`coder_jupyter._login.AuthManager.finish_login` (the same, plus the session's bookkeeping).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from . import _flows as flows
from ._config import CoderConfig
from ._connection import ConnectionSettings, make_client
from ._credentials import pending_logins_for, store_for
from ._oauth import authorize, pkce
from ._oauth.models import AuthServerMetadata, ClientRegistration, PendingLogin, TokenSet
from ._public import LoginMethod, printable, safe_url
from ._store import PendingLogins, Store
from ._transport import drive
from .errors import CoderError, InvalidClientError, LoginStateError, OAuthUnavailableError

__all__ = [
    "DEFAULT_LOGIN_TIMEOUT",
    "MAX_REDIRECT_URI",
    "OOB_REDIRECT_URI",
    "AuthStatus",
    "LoginMethod",
    "LoginStarted",
    "LoginStatus",
    "LogoutReport",
    "OAuthEngine",
    "finish_login",
    "safe_error",
    "usable_redirect_uri",
]

log = logging.getLogger(__name__)

LoginStatus = Literal["logged_out", "waiting", "logged_in", "expired", "error"]

#: Seconds a login may wait for the browser before it is abandoned.
DEFAULT_LOGIN_TIMEOUT = 300.0

#: Coder's out-of-band redirect: the consent page's result carries a code the user pastes.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"

#: How long a discovered metadata document is reused before discovering again.
METADATA_TTL = 3600.0

#: The longest redirect URI a page may send (the widget's comm message, the login route's body).
MAX_REDIRECT_URI = 2048


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
    """Returned by :meth:`OAuthEngine.begin_login`: open ``authorization_url`` in a browser.

    The URL carries the S256 challenge and ``state`` (useless without the verifier, which stays
    in the store); ``state`` itself is kept out of ``repr``.
    """

    authorization_url: str
    redirect_uri: str
    expires_at: float
    state: str = field(repr=False)


@dataclass(frozen=True)
class LogoutReport:
    """What a logout achieved; each step is ``"ok"``, ``"skipped"`` or an error text."""

    revoked: str
    local_credentials: str
    registration: str


def safe_error(exc: BaseException) -> str:
    """An exception as text safe to show: a CoderError's message (secret-free by design, cleaned
    and bounded), else only the exception's type."""
    return printable(exc, 500) if isinstance(exc, CoderError) else type(exc).__name__


def usable_redirect_uri(uri: object) -> bool:
    """The one check of a redirect URI that a page sends for a login through the Jupyter server:
    an absolute ``http(s)`` URL of at most :data:`MAX_REDIRECT_URI` characters, without user
    info or fragment. (The login route also requires it to be its own callback path.)"""
    if not isinstance(uri, str) or len(uri) > MAX_REDIRECT_URI or not uri.startswith(("http://", "https://")):
        return False
    parts = urlsplit(uri)
    return bool(parts.hostname) and "@" not in parts.netloc and not parts.fragment


class OAuthEngine:
    """OAuth 2.1 for one deployment (discovery, registration, PKCE + state, exchange, revocation).

    Args:
        url: the deployment (default: ``CODER_URL`` / the configuration).
        config: a :class:`~coder_jupyter.CoderConfig` (TLS, headers, OAuth client, redirect URI).
        store: the credential store (default: the per-user store for this deployment).
        pending_logins: where pending logins wait for their callback (default: under the store root).
        clock: Unix seconds (tests pass a fake).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        config: CoderConfig | None = None,
        store: Store | None = None,
        pending_logins: PendingLogins | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config if config is not None else CoderConfig()
        self.settings: ConnectionSettings = self.config.connection_settings(url)
        self.deployment_url: str = self.settings.url
        self.store = store if store is not None else store_for(self.config, self.deployment_url)
        self.pending_logins = (pending_logins if pending_logins is not None
                               else pending_logins_for(self.config))
        self.clock = clock
        #: Whether the deployment offers OAuth (``None``: not discovered yet).
        self.oauth_available: bool | None = None
        self._metadata: AuthServerMetadata | None = None
        self._metadata_at = 0.0

    def __repr__(self) -> str:
        return f"OAuthEngine({self.deployment_url!r})"

    # -- network ------------------------------------------------------------------------------------

    def plain_client(self) -> httpx.Client:
        """An unauthenticated :class:`httpx.Client` with the deployment's TLS and headers."""
        return make_client(self.settings)

    def run(self, flow: flows.Flow) -> Any:
        """Drive a sans-IO flow over a fresh plain client."""
        with self.plain_client() as client:
            return drive(flow, client)

    def fetch_user(self, access_token: str) -> dict[str, Any]:
        """Who ``access_token`` belongs to (``GET /api/v2/users/me``).

        Raises:
            AuthenticationError: the token was refused.
        """
        user: dict[str, Any] = self.run(flows.fetch_user(self.deployment_url, access_token))
        return user

    # -- discovery and registration -------------------------------------------------------------------

    def metadata(self, *, refresh: bool = False) -> AuthServerMetadata:
        """The deployment's validated RFC 8414 metadata (cached; ``refresh`` forces discovery).

        Raises:
            OAuthUnavailableError: the provider is off — the message says to use a token.
        """
        now = self.clock()
        if not refresh:
            if self._metadata is not None and now - self._metadata_at < METADATA_TTL:
                return self._metadata
            cached = self.store.load_metadata(max_age=METADATA_TTL, now=now)
            if cached is not None:
                self._metadata, self._metadata_at = cached, now
                return cached
        try:
            metadata: AuthServerMetadata = self.run(flows.discover(self.deployment_url))
        except OAuthUnavailableError:
            self.oauth_available = False
            raise
        self.store.save_metadata(metadata, now=now)
        self._metadata, self._metadata_at, self.oauth_available = metadata, now, True
        return metadata

    def registration(self, metadata: AuthServerMetadata, redirect_uri: str) -> ClientRegistration:
        """The OAuth2 client to log in with: the admin's pre-registered app, else our dynamic
        registration (made, or updated for a new ``redirect_uri``, and stored)."""
        client_id, client_secret = self.config.oauth_client()
        if client_id:
            return flows.preregistered_client(metadata, client_id, client_secret)
        with self.store.lock():
            cached = self.store.load_registration()
            registration: ClientRegistration = self.run(flows.ensure_registration(
                metadata, cached, redirect_uri=redirect_uri, deployment_url=self.deployment_url,
                client_name=self.config.client_name))
            if registration != cached:
                self.store.save_registration(registration)
        return registration

    def registration_for(self, client_id: str, metadata: AuthServerMetadata) -> ClientRegistration:
        """The client a pending login started with (pre-registered, or the stored registration).

        Raises:
            LoginStateError: that client is no longer registered here.
        """
        pre_id, pre_secret = self.config.oauth_client()
        if pre_id and pre_id == client_id:
            return flows.preregistered_client(metadata, pre_id, pre_secret)
        registration = self.store.load_registration()
        if registration is None or registration.client_id != client_id:
            raise LoginStateError("The OAuth2 client this login started with is no longer registered here. "
                                  "Click \"Log in\" to start a new login.", error="invalid_state")
        return registration

    def loopback_port(self) -> int:
        """The loopback port our registration already names (0: any), so a loopback login
        reuses it instead of updating the registration."""
        registration = self.store.load_registration()
        for uri in registration.redirect_uris if registration else ():
            if uri.startswith("http://127.0.0.1:"):
                return httpx.URL(uri).port or 0
        return 0

    # -- the redirect policy ------------------------------------------------------------------------

    def server_redirect_uri(self, page_redirect_uri: str) -> str:
        """The redirect URI of a login through the Jupyter server: the admin's fixed
        ``oauth_redirect_uri`` (JupyterHub's user-redirect URL for one pre-registered app) when
        set, else the page's own callback. The only place the override is applied."""
        return self.config.oauth_redirect_uri or page_redirect_uri

    # -- begin and finish ---------------------------------------------------------------------------

    def begin_login(self, redirect_uri: str | None = None, *,
                    timeout: float = DEFAULT_LOGIN_TIMEOUT) -> LoginStarted:
        """Start an OAuth login: discover, register (or reuse) the client, make PKCE + state, and
        record the pending login in the store so any process that receives the callback can
        finish it.

        Args:
            redirect_uri: where Coder sends the browser back. Default: the out-of-band URN.
            timeout: seconds the login stays valid.

        Raises:
            OAuthUnavailableError: the provider is off (use a token).
            RegistrationUnavailableError: DCR is off and no client is configured (the message
                names CODER_OAUTH_CLIENT_ID).
        """
        redirect_uri = redirect_uri or OOB_REDIRECT_URI
        metadata = self.metadata(refresh=True)  # a login is rare: see the provider's current state
        registration = self.registration(metadata, redirect_uri)
        verifier, state = pkce.make_verifier(), pkce.make_state()
        url = authorize.authorization_url(metadata, client_id=registration.client_id,
                                          redirect_uri=redirect_uri, state=state,
                                          code_challenge=pkce.s256_challenge(verifier))
        now = self.clock()
        pending = PendingLogin(deployment_url=self.deployment_url, state=state, code_verifier=verifier,
                               redirect_uri=redirect_uri, authorization_url=url,
                               client_id=registration.client_id, created_at=now, expires_at=now + timeout,
                               cancel_without_state=self.config.oauth_cancel_without_state)
        self.pending_logins.put(pending)
        log.info("login started for %s (redirect %s)", self.deployment_url,
                 safe_url(redirect_uri) if "://" in redirect_uri else redirect_uri)
        return LoginStarted(authorization_url=url, redirect_uri=redirect_uri,
                            expires_at=pending.expires_at, state=state)

    def cancel_login(self, state: str) -> None:
        """Forget the pending login ``state`` (its callback will be refused). Idempotent."""
        self.pending_logins.discard(state)

    def finish_login(self, callback: str | Mapping[str, str]) -> AuthStatus:
        """:func:`finish_login`, using this engine when the login is for its deployment."""
        return finish_login(callback, config=self.config, engine=self)

    def exchange(self, pending: PendingLogin, code: str) -> AuthStatus:
        """Exchange the code of ``pending`` (its deployment must be this engine's) and store the login.

        Raises:
            InvalidGrantError: Coder refused the code; InvalidClientError: our registration is
                gone (it is forgotten, so the next login registers anew); OAuthError, TransportError.
        """
        metadata = self.metadata()
        registration = self.registration_for(pending.client_id, metadata)
        try:
            tokens: TokenSet = self.run(flows.exchange_code(
                metadata, registration, code=code, redirect_uri=pending.redirect_uri,
                code_verifier=pending.code_verifier, clock=self.clock))
        except InvalidClientError:
            if registration.dynamic:
                self.store.delete_registration()  # registered anew at the next login
            raise
        return self.save_login(registration, tokens)

    def save_login(self, registration: ClientRegistration, tokens: TokenSet) -> AuthStatus:
        """Persist a finished OAuth login (tokens, account, registration) and report it."""
        user: dict[str, Any] = {}
        try:
            user = self.fetch_user(tokens.access_token)
        except CoderError as exc:  # the login itself worked; the name is a nicety
            log.warning("logged in, but reading the account failed: %s", safe_error(exc))
        with self.store.lock():
            if registration.dynamic and self.store.load_registration() is None:
                self.store.save_registration(registration)
            self.store.save_account({"username": user.get("username"), "id": user.get("id")})
            self.store.save_tokens(tokens)
        username = user.get("username")
        log.info("logged in to %s as %s", self.deployment_url, username)
        return AuthStatus(self.deployment_url, "logged_in", method=tokens.method,
                          username=username if isinstance(username, str) else None,
                          expires_at=tokens.expires_at, oauth_available=True)

    # -- ending a session ---------------------------------------------------------------------------

    def revoke(self, tokens: TokenSet) -> str:
        """End an OAuth session on Coder: the RFC 7009 endpoint when advertised (revoking the
        refresh token ends the access token too), else Coder's ``DELETE /oauth2/tokens?client_id=``.
        Never raises: returns ``"ok"`` or ``"failed: …"``."""
        registration = self.store.load_registration()
        client_id = tokens.client_id or (registration.client_id if registration else None)
        try:
            metadata = self.store.load_metadata() or self.metadata()
        except CoderError as exc:
            metadata, first_error = None, safe_error(exc)
        else:
            first_error = "no revocation endpoint"
        if metadata is not None and metadata.revocation_endpoint and registration is not None \
                and registration.client_id == client_id:
            try:
                token = tokens.refresh_token or tokens.access_token
                hint = "refresh_token" if tokens.refresh_token else "access_token"
                self.run(flows.revoke(metadata, registration, token, token_type_hint=hint))
                return "ok"
            except CoderError as exc:
                first_error = safe_error(exc)
        if client_id is None:
            return f"failed: {first_error}"
        try:
            self.run(flows.revoke_app(self.deployment_url, client_id, tokens.access_token))
            return "ok"
        except CoderError as exc:
            return f"failed: {first_error}; then {safe_error(exc)}"

    def delete_registration(self, registration: ClientRegistration | None) -> str:
        """Delete our dynamic client registration (RFC 7592) and forget it; ``"skipped"`` for
        none or a pre-registered app. Never raises."""
        if registration is None or not registration.dynamic:
            return "skipped"
        try:
            deleted = self.run(flows.delete_registration(registration))
            self.store.delete_registration()
        except CoderError as exc:
            return f"failed: {safe_error(exc)}"
        return "ok" if deleted else "deleted locally (the server offers no RFC 7592 endpoint)"


def _take_pending(params: authorize.CallbackParams, pending_logins: PendingLogins, *,
                  now: float, deployment_url: str | None) -> PendingLogin | None:
    """The pending login a callback belongs to, taken from the store (single use, even if the
    login then fails), or ``None``.

    Raises:
        LoginStateError: the state is unknown, already used or expired; or an error callback
            matches no login (it proves nothing about a login, so it is never shown as a cancel).
    """
    state_error: LoginStateError | None = None
    if params.state is not None:
        try:
            return pending_logins.take(params.state, now=now)
        except LoginStateError as exc:
            if params.error is None and params.code is not None:
                raise  # the store's message: unknown, already used, or expired
            state_error = exc
    elif params.error is not None:
        # Old Coder (G1) cancels without state: fail the one login in flight, by elimination, and
        # only for a deployment configured as such (c.CoderConfig.oauth_cancel_without_state).
        latest = pending_logins.latest_for(deployment_url, now=now, cancel_without_state=True)
        if latest is not None:
            with contextlib.suppress(LoginStateError):
                return pending_logins.take(latest.state, now=now)
    if params.error is not None:
        raise state_error or LoginStateError(
            "The login callback carried an error but no state, so it cannot be matched to a login "
            "started here. Click \"Log in\" to try again.", error="invalid_state")
    return None


def finish_login(
    callback: str | Mapping[str, str],
    *,
    config: CoderConfig | None = None,
    engine: OAuthEngine | None = None,
) -> AuthStatus:
    """Finish a login from its callback — the full URL, the query, or the decoded parameters — in
    any process (the kernel, or the server extension's callback route).

    The pending login is taken from the store by ``state`` (single use); its deployment tells
    which store and connection settings to use (``engine`` when it is that deployment's, else a
    new engine from ``config``). Its outcome is recorded for the process that started it. Errors
    are typed and their messages are safe to render (no secrets).

    Raises:
        AccessDeniedError: the user pressed Cancel.
        LoginStateError: the state is unknown, already used, expired or mismatched.
        InvalidGrantError: Coder refused the code (expired, used, wrong verifier).
        OAuthError, TransportError: other failures.
    """
    params = authorize.parse_callback(callback)
    if config is None:
        config = engine.config if engine is not None else CoderConfig()
    pending_logins = engine.pending_logins if engine is not None else pending_logins_for(config)
    clock = engine.clock if engine is not None else time.time
    now = clock()
    pending = _take_pending(params, pending_logins, now=now,
                            deployment_url=engine.deployment_url if engine is not None else None)
    try:
        code = authorize.check_callback(params, pending, now=now)
        assert pending is not None
        if engine is None or engine.deployment_url != pending.deployment_url:
            engine = OAuthEngine(pending.deployment_url, config=config, clock=clock)
        status = engine.exchange(pending, code)
    except CoderError as exc:
        if pending is not None:  # tell the process that started this login how it ended
            pending_logins.record_outcome(pending.state, ok=False, error=getattr(exc, "error", None),
                                          message=str(exc))
        raise
    pending_logins.record_outcome(pending.state, ok=True)
    return status
