"""The session manager, ``coder.auth``: every way to authenticate to one Coder deployment.

A thin layer over the OAuth engine (:mod:`coder_jupyter._engine`: discovery, registration,
begin, finish by state, revocation) and the request credentials (:mod:`coder_jupyter._auth`,
whose sources :mod:`coder_jupyter._credentials` walks on every request). It adds what a session
needs: status, waiting for a login (here or in the Jupyter server), API-token login, a loopback
listener (RFC 8252), Coder's out-of-band code, and logout. The widget, the magics, the server
extension and the REST client all go through it.

Credential precedence (:mod:`coder_jupyter._credentials`, walked on every request, like the
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
import getpass
import logging
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping

from . import _flows as flows
from ._auth import CoderAuth, Credentials
from ._config import CoderConfig
from ._connection import ConnectionSettings, make_client
from ._credentials import CredentialSources
from ._engine import (
    DEFAULT_LOGIN_TIMEOUT,
    OOB_REDIRECT_URI,
    AuthStatus,
    LoginMethod,
    LoginStarted,
    LogoutReport,
    OAuthEngine,
    safe_error,
)
from ._loopback import LoopbackListener
from ._oauth.models import AuthServerMetadata, TokenSet
from ._store import PendingLogins, Store
from ._transport import drive
from .errors import (
    AccessDeniedError,
    CoderError,
    LoginCancelledError,
    LoginStateError,
    LoginTimeoutError,
    OAuthError,
)

__all__ = [
    "DEFAULT_LOGIN_TIMEOUT",
    "OOB_REDIRECT_URI",
    "AuthManager",
    "AuthStatus",
    "LoginStarted",
    "LogoutReport",
]

log = logging.getLogger(__name__)


class AuthManager:
    """``coder.auth``: log in, log out and report status for one deployment.

    Args:
        url: the deployment (default: ``CODER_URL`` / the configuration).
        token: an explicit API token; wins over everything else and is never stored.
        config: a :class:`~coder_jupyter.CoderConfig` (TLS, headers, OAuth client, allowed
            login methods); default: read from the environment.
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
        self.engine = OAuthEngine(url, config=config, store=store, pending_logins=pending_logins, clock=clock)
        self.config: CoderConfig = self.engine.config
        self.settings: ConnectionSettings = self.engine.settings
        self.deployment_url: str = self.engine.deployment_url
        self.store: Store = self.engine.store
        self.pending_logins: PendingLogins = self.engine.pending_logins
        self.clock = clock
        self.sources = CredentialSources(self.config, self.deployment_url, explicit=token)
        self.credentials = Credentials(self.deployment_url, self.store, self.engine.plain_client,
                                       sources=self.sources, clock=clock)
        self._auth = CoderAuth(self.credentials)
        self._pending: LoginStarted | None = None
        self._pending_error: str | None = None
        self._done = threading.Event()

    def __repr__(self) -> str:
        return f"AuthManager({self.deployment_url!r}, status={self.status().status!r})"

    @property
    def httpx_auth(self) -> CoderAuth:
        """The :class:`httpx.Auth` the REST clients use (sync and async)."""
        return self._auth

    def metadata(self, *, refresh: bool = False) -> AuthServerMetadata:
        """The deployment's validated RFC 8414 metadata (:meth:`OAuthEngine.metadata`)."""
        return self.engine.metadata(refresh=refresh)

    # -- status -----------------------------------------------------------------------------------

    def status(self, *, check: bool = False) -> AuthStatus:
        """The current state, from memory and the store: no network I/O unless ``check=True``,
        which also asks Coder who the token belongs to (and refreshes it if needed)."""
        tokens, source = self.credentials.resolve()
        available = self.engine.oauth_available
        if tokens is None:
            if self._pending is not None and self.clock() < self._pending.expires_at:
                return AuthStatus(self.deployment_url, "waiting", oauth_available=available)
            error = self._pending_error or self.credentials.ended
            return AuthStatus(self.deployment_url, "error" if self._pending_error else "logged_out",
                              error=error, oauth_available=available)
        static = source != "store"
        method: LoginMethod = source if static else tokens.method  # type: ignore[assignment]
        account = None if static else self.store.load_account()
        username = account.get("username") if account else None
        if check:
            try:
                # Through CoderAuth, so an expired token is refreshed (or adopted) on the way.
                with make_client(self.settings, auth=self._auth) as client:
                    user = drive(flows.fetch_user(self.deployment_url, ""), client)
                username = user["username"]
            except CoderError as exc:
                return AuthStatus(self.deployment_url, "error", method=method, error=safe_error(exc),
                                  oauth_available=available)
            tokens = self.credentials.current() or tokens
        expired = tokens.refresh_token is None and tokens.expires_within(0, now=self.clock())
        return AuthStatus(self.deployment_url, "expired" if expired else "logged_in", method=method,
                          username=username if isinstance(username, str) else None,
                          expires_at=tokens.expires_at, oauth_available=available)

    def changed(self) -> bool:
        """Cheap (one ``stat``): did another process log in, refresh or log out since last asked?"""
        return self.credentials.changed()

    # -- OAuth login --------------------------------------------------------------------------------

    def begin_login(self, redirect_uri: str | None = None, *,
                    timeout: float = DEFAULT_LOGIN_TIMEOUT) -> LoginStarted:
        """Start an OAuth login (:meth:`OAuthEngine.begin_login`), replacing this session's
        pending one; :meth:`wait_for_login` then waits for it.

        Args:
            redirect_uri: where Coder sends the browser back (the Jupyter server's callback route,
                a loopback listener, …). Default: the out-of-band URN (paste the code).
            timeout: seconds the login stays valid.

        Raises:
            OAuthUnavailableError: the provider is off (use a token).
            RegistrationUnavailableError: DCR is off and no client is configured (the message
                names CODER_OAUTH_CLIENT_ID).
        """
        self.cancel_login()
        self._pending = self.engine.begin_login(redirect_uri, timeout=timeout)
        self._pending_error = None
        self._done.clear()
        return self._pending

    def finish_login(self, callback_url_or_params: str | Mapping[str, str]) -> AuthStatus:
        """Finish a login from the callback: its full URL, its query, or the decoded parameters
        (:func:`coder_jupyter._engine.finish_login`).

        Raises:
            AccessDeniedError: the user pressed Cancel.
            LoginStateError: the state is unknown, already used, expired or mismatched.
            InvalidGrantError: Coder refused the code (expired, used, wrong verifier).
            OAuthError: other OAuth errors.
        """
        try:
            finished = self.engine.finish_login(callback_url_or_params)
        except CoderError as exc:
            if self._pending is not None and not isinstance(exc, LoginStateError):
                self._pending_error = safe_error(exc)
                self._pending = None
                self._done.set()
            raise
        self._pending, self._pending_error = None, None
        self._done.set()
        if finished.deployment_url != self.deployment_url:
            return finished
        self.credentials.reload()
        return self.status()

    def cancel_login(self) -> None:
        """Abandon this manager's pending login (its state will be refused). Idempotent."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.engine.cancel_login(pending.state)
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
            persist: save it in the store (0600) so other kernels and later sessions use it;
                ``False`` keeps it in this session only, ranked first like ``Coder(url, token=...)``.

        Raises:
            AuthenticationError: Coder refused the token.
        """
        token = token.strip()
        if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
            # httpx would raise UnicodeEncodeError, whose args hold the whole token.
            raise CoderError("The API token contains spaces, line breaks or non-ASCII characters, which a "
                             "Coder token never has. Copy it again (`coder tokens create`) and paste it.")
        user = self.engine.fetch_user(token)
        if persist:
            with self.store.lock():
                self.store.save_account({"username": user.get("username"), "id": user.get("id")})
                tokens = TokenSet(access_token=token, method="token", obtained_at=self.clock())
                self.credentials.replace(tokens)
        else:
            self.sources.explicit = token
        return AuthStatus(self.deployment_url, "logged_in", method="token", username=user.get("username"),
                          oauth_available=self.engine.oauth_available)

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
        with LoopbackListener(port=self.engine.loopback_port()) as listener:
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
                listener.respond(False, safe_error(exc))
                raise
            listener.respond(True, f"Logged in to Coder as {status.username or 'you'}.")
            return status

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

        Revocation: see :meth:`OAuthEngine.revoke`. API tokens are not revoked (you created them;
        delete them with ``coder tokens rm``). Never raises for a failed step: the report says
        what happened.
        """
        self.cancel_login()
        tokens, source = self.credentials.resolve()
        registration = self.store.load_registration()
        revoked = "skipped"
        if source == "store" and tokens is not None and tokens.method == "oauth":
            revoked = self.engine.revoke(tokens)
        try:
            with self.store.lock():
                self.credentials.forget()
                self.store.delete_account()
            local = "ok"
            still = self.credentials.resolve()[1]
            if still not in (None, "store"):
                local += (f" (but a token from {still} is still used: unset "
                          "CODER_SESSION_TOKEN or run `coder logout` to stop using it)")
        except (OSError, CoderError) as exc:
            local = f"failed: {safe_error(exc)}"
        reg_result = self.engine.delete_registration(registration) if delete_registration else "skipped"
        return LogoutReport(revoked=revoked, local_credentials=local, registration=reg_result)


def _open(url: str) -> bool:
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False
