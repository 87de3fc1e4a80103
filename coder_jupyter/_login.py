"""The login manager, ``coder.auth``: every way to authenticate to one Coder deployment.

It orchestrates discovery → client registration → PKCE + state → authorization URL → callback →
code exchange → store, plus API-token login, a loopback listener (RFC 8252), Coder's out-of-band
code, status and logout. The widget, the magics, the server extension and the REST client all go
through it. The protocol lives in :mod:`coder_jupyter._oauth` and :mod:`coder_jupyter._flows`;
this module only wires it to the store, the configuration and the user.

Credential precedence (one expression in :func:`coder_jupyter._config.find_credential`, like the
Coder CLI):
an explicitly given token > ``CODER_SESSION_TOKEN`` > the store (an OAuth login or a saved token)
> the Coder CLI's session > an OAuth login (when available and not disabled by configuration).

Headless::

    coder = Coder("https://coder.example.com")
    started = coder.auth.begin_login(redirect_uri="http://127.0.0.1:8123/callback")
    started.authorization_url                  # open this in a browser
    coder.auth.finish_login("http://127.0.0.1:8123/callback?code=...&state=...")
    coder.auth.logout()                         # revokes and forgets
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from . import _flows as flows
from ._auth import CoderAuth, Credentials
from ._config import CoderConfig, ConnectionSettings, make_client, resolve_static_token
from ._loopback import LoopbackListener
from ._oauth import authorize, pkce
from ._oauth.models import AuthServerMetadata, ClientRegistration, PendingLogin, TokenSet
from ._oauth.responses import printable
from ._store import PendingLogins, Store
from ._transport import drive, url_without_query
from .errors import (
    AccessDeniedError,
    CoderError,
    InvalidClientError,
    LoginCancelledError,
    LoginStateError,
    LoginTimeoutError,
    OAuthError,
    OAuthUnavailableError,
)

#: Seconds a login may wait for the browser before it is abandoned.
DEFAULT_LOGIN_TIMEOUT = 300.0

__all__ = [
    "OOB_REDIRECT_URI",
    "AuthManager",
    "AuthStatus",
    "LoginStarted",
    "LogoutReport",
    "complete_login",
]

log = logging.getLogger(__name__)

LoginMethod = Literal["oauth", "token", "env", "cli"]
LoginStatus = Literal["logged_out", "waiting", "logged_in", "expired", "error"]

#: Coder's out-of-band redirect: the consent page's result carries a code the user pastes.
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"

#: How long a discovered metadata document is reused before discovering again.
METADATA_TTL = 3600.0


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
    """Returned by :meth:`AuthManager.begin_login`: open ``authorization_url`` in a browser.

    The URL carries the S256 challenge and ``state`` (useless without the verifier, which stays
    in the store); ``state`` itself is kept out of ``repr``.
    """

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


def _safe(exc: BaseException) -> str:
    return printable(exc, 500) if isinstance(exc, CoderError) else type(exc).__name__


class AuthManager:
    """``coder.auth``: log in, log out and report status for one deployment.

    Args:
        url: the deployment (default: ``CODER_URL`` / the configuration).
        token: an explicit API token; wins over everything else and is never stored.
        config: a :class:`~coder_jupyter._config.CoderConfig` (TLS, headers, OAuth client,
            allowed login methods); default: read from the environment.
        store: the credential store (default: the per-user store for this deployment).
        clock: Unix seconds (tests pass a fake).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        config: CoderConfig | None = None,
        store: Store | None = None,
        pending_logins: PendingLogins | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config if config is not None else CoderConfig()
        self.settings: ConnectionSettings = self.config.connection_settings(url)
        self.deployment_url: str = self.settings.url
        self.store = store if store is not None else self.config.store(self.deployment_url)
        self.pending_logins = pending_logins if pending_logins is not None else self.config.pending_logins()
        self.clock = clock
        # The precedence lives in _config.find_credential; a "cli" session ranks after the store,
        # so it only fills in while the store is empty (an OAuth login then takes over).
        static = resolve_static_token(self.config, explicit=token, url=self.deployment_url, store=self.store)
        self._static_method: LoginMethod | None = static[1] if static else None
        self.credentials = Credentials(
            self.deployment_url, self.store, self._plain_client,
            static=TokenSet(access_token=static[0], method="token") if static else None,
            static_first=self._static_method != "cli",
            clock=clock,
        )
        self._auth = CoderAuth(self.credentials)
        self._pending: LoginStarted | None = None
        self._pending_error: str | None = None
        self._done = threading.Event()
        self._metadata: AuthServerMetadata | None = None
        self._metadata_at = 0.0
        self._oauth_available: bool | None = None

    def __repr__(self) -> str:
        return f"AuthManager({self.deployment_url!r}, status={self.status().status!r})"

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def httpx_auth(self) -> CoderAuth:
        """The :class:`httpx.Auth` the REST clients use (sync and async)."""
        return self._auth

    def _plain_client(self) -> httpx.Client:
        return make_client(self.settings)

    def _drive(self, flow: flows.Flow) -> Any:
        with self._plain_client() as client:
            return drive(flow, client)

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
            metadata: AuthServerMetadata = self._drive(flows.discover(self.deployment_url))
        except OAuthUnavailableError:
            self._oauth_available = False
            raise
        self.store.save_metadata(metadata, now=now)
        self._metadata, self._metadata_at, self._oauth_available = metadata, now, True
        return metadata

    def _client_for(self, metadata: AuthServerMetadata, redirect_uri: str) -> ClientRegistration:
        client_id, client_secret = self.config.oauth_client()
        if client_id:
            return flows.preregistered_client(metadata, client_id, client_secret)
        with self.store.lock():
            cached = self.store.load_registration()
            registration: ClientRegistration = self._drive(flows.ensure_registration(
                metadata, cached, redirect_uri=redirect_uri, deployment_url=self.deployment_url,
                client_name=self.config.client_name))
            if registration != cached:
                self.store.save_registration(registration)
        return registration

    def _registration_for(self, client_id: str, metadata: AuthServerMetadata) -> ClientRegistration:
        """The client a pending login started with (pre-registered, or the stored registration)."""
        pre_id, pre_secret = self.config.oauth_client()
        if pre_id and pre_id == client_id:
            return flows.preregistered_client(metadata, pre_id, pre_secret)
        registration = self.store.load_registration()
        if registration is None or registration.client_id != client_id:
            raise LoginStateError("The OAuth2 client this login started with is no longer registered here. "
                                  "Click \"Log in\" to start a new login.", error="invalid_state")
        return registration

    # -- status -----------------------------------------------------------------------------------

    def status(self, *, check: bool = False) -> AuthStatus:
        """The current state, from memory and the store: no network I/O unless ``check=True``,
        which also asks Coder who the token belongs to (and refreshes it if needed)."""
        tokens = self.credentials.current()
        if tokens is None:
            if self._pending is not None and self.clock() < self._pending.expires_at:
                return AuthStatus(self.deployment_url, "waiting", oauth_available=self._oauth_available)
            error = self._pending_error or self.credentials.ended
            return AuthStatus(self.deployment_url, "error" if self._pending_error else "logged_out",
                              error=error, oauth_available=self._oauth_available)
        static = self.credentials.using_static()
        method: LoginMethod = (self._static_method or "token") if static else tokens.method
        account = None if static else self.store.load_account()
        username = account.get("username") if account else None
        if check:
            try:
                # Through CoderAuth, so an expired token is refreshed (or adopted) on the way.
                with make_client(self.settings, auth=self._auth) as client:
                    user = drive(flows.fetch_user(self.deployment_url, ""), client)
                username = user["username"]
            except CoderError as exc:
                return AuthStatus(self.deployment_url, "error", method=method, error=_safe(exc),
                                  oauth_available=self._oauth_available)
            tokens = self.credentials.current() or tokens
        expired = tokens.refresh_token is None and tokens.expires_within(0, now=self.clock())
        return AuthStatus(self.deployment_url, "expired" if expired else "logged_in", method=method,
                          username=username if isinstance(username, str) else None,
                          expires_at=tokens.expires_at, oauth_available=self._oauth_available)

    def changed(self) -> bool:
        """Cheap (one ``stat``): did another process log in, refresh or log out since last asked?"""
        return self.credentials.changed()

    # -- OAuth login --------------------------------------------------------------------------------

    def begin_login(self, redirect_uri: str | None = None, *,
                    timeout: float = DEFAULT_LOGIN_TIMEOUT) -> LoginStarted:
        """Start an OAuth login: discover, register (or reuse) the client, make PKCE + state, and
        record the pending login in the store so any process that receives the callback can
        finish it.

        Args:
            redirect_uri: where Coder sends the browser back (the Jupyter server's callback route,
                a loopback listener, …). Default: the out-of-band URN (paste the code).
            timeout: seconds the login stays valid.

        Raises:
            OAuthUnavailableError: the provider is off (use a token).
            RegistrationUnavailableError: DCR is off and no client is configured (the message
                names CODER_OAUTH_CLIENT_ID).
        """
        redirect_uri = redirect_uri or OOB_REDIRECT_URI
        self.cancel_login()
        metadata = self.metadata(refresh=True)  # a login is rare: see the provider's current state
        registration = self._client_for(metadata, redirect_uri)
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
        self._pending = LoginStarted(authorization_url=url, redirect_uri=redirect_uri,
                                     expires_at=pending.expires_at, state=state)
        self._pending_error = None
        self._done.clear()
        log.info("login started for %s (redirect %s)", self.deployment_url, url_without_query(redirect_uri)
                 if "://" in redirect_uri else redirect_uri)
        return self._pending

    def finish_login(self, callback_url_or_params: str | Mapping[str, str]) -> AuthStatus:
        """Finish a login from the callback: its full URL, its query, or the decoded parameters.

        Raises:
            AccessDeniedError: the user pressed Cancel.
            LoginStateError: the state is unknown, already used, expired or mismatched.
            InvalidGrantError: Coder refused the code (expired, used, wrong verifier).
            OAuthError: other OAuth errors.
        """
        params = authorize.parse_callback(callback_url_or_params)
        try:
            status = _finish(params, self.pending_logins, clock=self.clock,
                             deployment_url=self.deployment_url, manager_for=self._manager_for)
        except CoderError as exc:
            self._record_failure(exc)
            raise
        self._pending = None
        self._done.set()
        return status

    def _manager_for(self, deployment_url: str) -> AuthManager:
        if deployment_url == self.deployment_url:
            return self
        return AuthManager(deployment_url, config=self.config, clock=self.clock)

    def _record_failure(self, exc: CoderError) -> None:
        if self._pending is not None and not isinstance(exc, LoginStateError):
            self._pending_error = _safe(exc)
            self._pending = None
            self._done.set()

    def _store_login(self, registration: ClientRegistration, tokens: TokenSet) -> AuthStatus:
        """Persist a finished login (tokens + account) and report it."""
        user: dict[str, Any] = {}
        try:
            user = self._drive(flows.fetch_user(self.deployment_url, tokens.access_token))
        except CoderError as exc:  # the login itself worked; the name is a nicety
            log.warning("logged in, but reading the account failed: %s", _safe(exc))
        with self.store.lock():
            if registration.dynamic and self.store.load_registration() is None:
                self.store.save_registration(registration)
            self.store.save_account({"username": user.get("username"), "id": user.get("id")})
            self.credentials.replace(tokens)
        self._pending, self._pending_error = None, None
        log.info("logged in to %s as %s", self.deployment_url, user.get("username"))
        return self.status()

    def cancel_login(self) -> None:
        """Abandon this manager's pending login (its state will be refused). Idempotent."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.pending_logins.discard(pending.state)
            self._pending_error = None
            self._done.set()

    def wait_for_login(self, timeout: float | None = None) -> AuthStatus:
        """Block until the pending login finishes here or in another process (the Jupyter server
        writes the tokens to the store; this notices with one ``stat`` every 0.2 s).

        Raises:
            LoginTimeoutError: no login within ``timeout`` (default: the login's own expiry).
            LoginCancelledError: :meth:`cancel_login` was called.
            OAuthError: the login failed in this process (e.g. AccessDeniedError).
        """
        deadline = self._deadline(timeout)
        while True:
            result = self._login_outcome()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout()
            self._done.wait(min(0.2, remaining))

    async def await_login(self, timeout: float | None = None) -> AuthStatus:
        """Async twin of :meth:`wait_for_login` (never blocks the event loop)."""
        deadline = self._deadline(timeout)
        while True:
            result = self._login_outcome()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout()
            await asyncio.sleep(min(0.2, remaining))

    def _deadline(self, timeout: float | None) -> float:
        if timeout is None:  # the pending login's own expiry; with none yet, the widget's 5 minutes
            timeout = (max(0.0, self._pending.expires_at - self.clock()) if self._pending
                       else DEFAULT_LOGIN_TIMEOUT)
        return time.monotonic() + timeout

    def _login_outcome(self) -> AuthStatus | None:
        status = self.status()
        if status.status == "logged_in":
            self._pending = None
            return status
        if self._pending_error is not None:
            raise OAuthError(self._pending_error)
        if self._pending is not None:
            ended = self.pending_logins.outcome(self._pending.state)
            if ended is not None and not ended.get("ok"):
                # Another process (the Jupyter server) consumed this login and it failed there.
                self._pending = None
                error, message = ended.get("error"), str(ended.get("message") or "The login failed.")
                cls = AccessDeniedError if error == "access_denied" else OAuthError
                raise cls(message, error=error if isinstance(error, str) else None)
        if self._pending is None and self._done.is_set():
            raise LoginCancelledError("The login was cancelled. Click \"Log in\" to start again.")
        return None

    def _timeout(self) -> LoginTimeoutError:
        self.cancel_login()
        return LoginTimeoutError(
            "No login arrived in time. Click \"Log in\" (or run %coder login) to try again.")

    # -- other ways in ------------------------------------------------------------------------------

    def login_with_token(self, token: str, *, persist: bool = True) -> AuthStatus:
        """Log in with an API token (``coder tokens create``); checked against ``/users/me``.

        Args:
            token: the token. It is never echoed, logged or put in a message.
            persist: save it in the store (0600) so other kernels and later sessions use it.

        Raises:
            AuthenticationError: Coder refused the token.
        """
        token = token.strip()
        if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
            # httpx would raise UnicodeEncodeError, whose args hold the whole token.
            raise CoderError("The API token contains spaces, line breaks or non-ASCII characters, which a "
                             "Coder token never has. Copy it again (`coder tokens create`) and paste it.")
        user = self._drive(flows.fetch_user(self.deployment_url, token))
        tokens = TokenSet(access_token=token, method="token", obtained_at=self.clock())
        if persist:
            with self.store.lock():
                self.store.save_account({"username": user.get("username"), "id": user.get("id")})
                self.credentials.replace(tokens)
        else:
            self.credentials = self._auth.credentials = Credentials(
                self.deployment_url, None, self._plain_client, static=tokens, clock=self.clock)
            self._static_method = "token"
        return AuthStatus(self.deployment_url, "logged_in", method="token", username=user.get("username"),
                          oauth_available=self._oauth_available)

    def login_loopback(
        self, *, open_browser: bool = True, timeout: float = DEFAULT_LOGIN_TIMEOUT,
        show: Callable[[str], None] = print,
    ) -> AuthStatus:
        """Log in through a one-shot listener on ``127.0.0.1`` (RFC 8252), for kernels without a
        Jupyter server route (IPython in a terminal, VS Code). Opens the browser (or shows the
        URL to open) and blocks until the callback, at most ``timeout`` seconds.

        Raises:
            LoginTimeoutError, AccessDeniedError, LoginStateError, OAuthError.
        """
        port = self._loopback_port()
        with LoopbackListener(port=port) as listener:
            started = self.begin_login(listener.redirect_uri, timeout=timeout)
            listener.expect(started.state, stateless_error=self.config.oauth_cancel_without_state)
            if not (open_browser and _open(started.authorization_url)):
                show(f"Open this address to log in to Coder:\n{started.authorization_url}")
            try:
                callback = listener.wait(timeout)
            except LoginTimeoutError:
                self.cancel_login()
                raise
            try:
                status = self.finish_login(callback)
            except CoderError as exc:
                listener.respond(False, _safe(exc))
                raise
            listener.respond(True, f"Logged in to Coder as {status.username or 'you'}.")
            return status

    def _loopback_port(self) -> int:
        registration = self.store.load_registration()
        for uri in registration.redirect_uris if registration else ():
            if uri.startswith("http://127.0.0.1:"):
                port = httpx.URL(uri).port
                return port or 0
        return 0

    def login_oob(
        self, *, prompt: Callable[[str], str] | None = None, timeout: float = DEFAULT_LOGIN_TIMEOUT,
        show: Callable[[str], None] = print,
    ) -> AuthStatus:
        """Log in with Coder's out-of-band redirect: open the URL, approve, paste the code shown.

        Args:
            prompt: reads the pasted code (default: :func:`getpass.getpass`, so it is not echoed).
            timeout: seconds the login stays valid.
        """
        started = self.begin_login(OOB_REDIRECT_URI, timeout=timeout)
        show(f"Open this address, approve, then paste the code shown:\n{started.authorization_url}")
        pasted = (prompt or getpass.getpass)("Coder authorization code: ").strip()
        if not pasted:
            self.cancel_login()
            raise LoginCancelledError("No code was pasted; the login was cancelled.")
        if "code=" in pasted or "error=" in pasted:
            return self.finish_login(pasted)
        return self.finish_login({"code": pasted, "state": started.state})

    # -- logout -------------------------------------------------------------------------------------

    def logout(self, *, delete_registration: bool = False) -> LogoutReport:
        """Revoke the session on Coder, forget it locally, optionally delete the client registration.

        Revocation uses the RFC 7009 endpoint when advertised (revoking the refresh token ends the
        access token too), else Coder's ``DELETE /oauth2/tokens?client_id=``. API tokens are not
        revoked (you created them; delete them with ``coder tokens rm``). Never raises for a
        failed step: the report says what happened.
        """
        self.cancel_login()
        tokens = None if self.credentials.using_static() else self.credentials.current()
        revoked = "skipped"
        registration = self.store.load_registration()
        if tokens is not None and tokens.method == "oauth":
            revoked = self._revoke(tokens, registration)
        try:
            with self.store.lock():
                self.credentials.forget()
                self.store.delete_account()
            local = "ok"
            if self.credentials.using_static():
                local += (f" (but a token from {self._static_method} is still used: unset "
                          "CODER_SESSION_TOKEN or run `coder logout` to stop using it)")
        except (OSError, CoderError) as exc:
            local = f"failed: {_safe(exc)}"
        reg_result = "skipped"
        if delete_registration and registration is not None and registration.dynamic:
            try:
                deleted = self._drive(flows.delete_registration(registration))
                self.store.delete_registration()
                reg_result = "ok" if deleted else "deleted locally (the server offers no RFC 7592 endpoint)"
            except CoderError as exc:
                reg_result = f"failed: {_safe(exc)}"
        return LogoutReport(revoked=revoked, local_credentials=local, registration=reg_result)

    def _revoke(self, tokens: TokenSet, registration: ClientRegistration | None) -> str:
        client_id = tokens.client_id or (registration.client_id if registration else None)
        try:
            metadata = self.store.load_metadata() or self.metadata()
        except CoderError as exc:
            metadata, first_error = None, _safe(exc)
        else:
            first_error = "no revocation endpoint"
        if metadata is not None and metadata.revocation_endpoint and registration is not None \
                and registration.client_id == client_id:
            try:
                token = tokens.refresh_token or tokens.access_token
                hint = "refresh_token" if tokens.refresh_token else "access_token"
                self._drive(flows.revoke(metadata, registration, token, token_type_hint=hint))
                return "ok"
            except CoderError as exc:
                first_error = _safe(exc)
        if client_id is None:
            return f"failed: {first_error}"
        try:
            self._drive(flows.revoke_app(self.deployment_url, client_id, tokens.access_token))
            return "ok"
        except CoderError as exc:
            return f"failed: {first_error}; then {_safe(exc)}"


def _open(url: str) -> bool:
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def _finish(
    params: authorize.CallbackParams,
    pending_logins: PendingLogins,
    *,
    clock: Callable[[], float],
    deployment_url: str | None,
    manager_for: Callable[[str], AuthManager],
) -> AuthStatus:
    """The shared end of a login: find the pending login, check the callback, exchange, store."""
    now = clock()
    pending: PendingLogin | None = None
    state_error: LoginStateError | None = None
    if params.state is not None:
        try:
            pending = pending_logins.take(params.state, now=now)  # single use, even if it then fails
        except LoginStateError as exc:
            state_error = exc
    elif params.error is not None:
        # Old Coder (G1) cancels without state: fail the one login in flight, by elimination, and
        # only for a deployment configured as such (c.CoderConfig.oauth_cancel_without_state).
        latest = pending_logins.latest_for(deployment_url, now=now, cancel_without_state=True)
        if latest is not None:
            with contextlib.suppress(LoginStateError):
                pending = pending_logins.take(latest.state, now=now)
    if state_error is not None and params.error is None and params.code is not None:
        raise state_error  # the store's message: unknown, already used, or expired
    if pending is None and params.error is not None:
        # An error callback that matches no login is refused like any unknown state: it proves
        # nothing about a login and must not be shown as "cancelled".
        raise state_error or LoginStateError(
            "The login callback carried an error but no state, so it cannot be matched to a login "
            "started here. Click \"Log in\" to try again.", error="invalid_state")
    try:
        code = authorize.check_callback(params, pending, now=now)
        assert pending is not None
        manager = manager_for(pending.deployment_url)
        metadata = manager.metadata()
        registration = manager._registration_for(pending.client_id, metadata)
        try:
            tokens = manager._drive(flows.exchange_code(metadata, registration, code=code,
                                                        redirect_uri=pending.redirect_uri,
                                                        code_verifier=pending.code_verifier, clock=clock))
        except InvalidClientError:
            if registration.dynamic:
                manager.store.delete_registration()  # registered anew at the next login
            raise
        status = manager._store_login(registration, tokens)
    except CoderError as exc:
        if pending is not None:  # tell the process that started this login how it ended
            pending_logins.record_outcome(pending.state, ok=False, error=getattr(exc, "error", None),
                                          message=str(exc))
        raise
    pending_logins.record_outcome(pending.state, ok=True)
    return status


def complete_login(params: Mapping[str, str], *, config: CoderConfig | None = None) -> AuthStatus:
    """Finish a login from a callback's query parameters, in any process (the server extension).

    The pending login is taken from the store by ``state`` (single use); its deployment tells
    which store and connection settings to use. Errors are typed and their messages are safe to
    render (no secrets).

    Raises:
        AccessDeniedError, LoginStateError, InvalidGrantError, OAuthError, TransportError.
    """
    config = config if config is not None else CoderConfig()
    return _finish(authorize.parse_callback(params), config.pending_logins(), clock=time.time,
                   deployment_url=None, manager_for=lambda url: AuthManager(url, config=config))

