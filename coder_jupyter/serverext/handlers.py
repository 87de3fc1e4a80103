"""Request handlers of the server extension: the OAuth callback page and a small JSON API.

Routes (each under the server's ``base_url``, e.g. ``/user/alice/`` on JupyterHub):

=============================  ======  ==========================================================
``coder/oauth/callback``       GET     Coder redirects the login popup here with ``code`` and
                                       ``state``; finishes the login and renders a small page.
``coder/api/status``           GET     ``{"deployment", "status", "username", "method",
                                       "expires_at", "error", "oauth_available"}``.
``coder/api/login``            POST    ``{"redirect_uri"?}`` → ``{"authorization_url",
                                       "redirect_uri", "expires_at"}``.
``coder/api/logout``           POST    revokes and forgets the credentials → the new status.
``coder/api/cancel``           POST    drops the pending login → the new status.
``coder/api/cli``              GET     where the Coder CLI shares the login: ``{"deployment",
                                       "kernels", "terminals"}`` (paths, never a secret).
                               POST    ``{"force"?}``: share it with ``coder`` in terminals → the
                                       same body; ``"conflict"`` (a message) instead when the CLI
                                       holds a session we did not write and ``force`` is false.
                               DELETE  stop sharing with terminals → the same body.
=============================  ======  ==========================================================

Every route requires the Jupyter user to be authenticated. The JSON routes are
:class:`~jupyter_server.base.handlers.APIHandler`\\ s, so POSTs also need the XSRF token (or the
Jupyter token), like every other Jupyter API. None of them ever returns or logs a secret.

The callback checks its query in the order oauthenticator uses — size, then ``error``, then
``code``, then ``state`` — and only then touches the store: a request refused early consumes
nothing and stores nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from .._engine import usable_redirect_uri
from .._login import AuthStatus
from .._public import printable
from ..errors import (
    AccessDeniedError,
    CliSessionConflictError,
    CoderError,
    ConfigurationError,
    InvalidGrantError,
    LoginStateError,
    NotLoggedInError,
    OAuthError,
    TransportError,
)
from ._backend import LoginBackend
from .pages import Page, new_nonce, page_headers, render_page

__all__ = [
    "CALLBACK_PATH",
    "CallbackHandler",
    "CancelHandler",
    "CliHandler",
    "LoginHandler",
    "LogoutHandler",
    "StatusHandler",
    "status_json",
]

#: The callback's path relative to ``base_url``.
CALLBACK_PATH = "coder/oauth/callback"

T = TypeVar("T")


def status_json(status: AuthStatus | None) -> dict[str, Any]:
    """The JSON body of ``coder/api/status``: public fields only (``AuthStatus`` holds no secret)."""
    if status is None:
        return {
            "deployment": None,
            "status": "unconfigured",
            "username": None,
            "method": None,
            "expires_at": None,
            "error": None,
            "oauth_available": None,
        }
    return {
        "deployment": status.deployment_url,
        "status": status.status,
        "username": status.username,
        "method": status.method,
        "expires_at": status.expires_at,
        "error": status.error,
        "oauth_available": status.oauth_available,
    }


class _CoderHandlerMixin(ExtensionHandlerMixin):
    """Access to the extension's backend and its executor (blocking HTTP runs off the loop)."""

    @property
    def backend(self) -> LoginBackend:
        backend: LoginBackend = self.extensionapp.backend  # type: ignore[attr-defined]
        return backend

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        executor = self.extensionapp.executor  # type: ignore[attr-defined]
        return await asyncio.get_running_loop().run_in_executor(executor, func, *args)


class CallbackHandler(_CoderHandlerMixin, JupyterHandler):
    """``GET {base_url}coder/oauth/callback?code=…&state=…`` — the OAuth redirect target.

    Answers with a page (see :mod:`.pages`) and a status code: 200 logged in; 400 malformed or
    expired/unknown/replayed state or rejected code; 403 access denied on Coder's consent page or
    a request without a Jupyter login; 502 Coder unreachable or failing.
    """

    @property
    def max_parameter_length(self) -> int:
        return int(self.extensionapp.max_parameter_length)  # type: ignore[attr-defined]

    async def prepare(self) -> None:  # type: ignore[override]
        # Refuse (403, our page) instead of redirecting to Jupyter's login: a redirect would
        # carry this URL — and so the authorization code — in the login page's `next=`.
        await super().prepare(_redirect_to_login=False)

    def get_login_url(self) -> str:
        """Never redirect to the login page (see :meth:`prepare`): without a user, 403."""
        raise web.HTTPError(403)

    def _request_summary(self) -> str:
        # Tornado logs this on errors; the query holds the authorization code.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        """Log failures with the path only — never the query (code, state) or the request repr."""
        if isinstance(value, web.HTTPError):
            self.log.warning("%d %s", value.status_code, self._request_summary())
        else:
            self.log.error("Uncaught %s in %s", typ.__name__ if typ else "error", self._request_summary(),
                           exc_info=value)

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self._nonce = new_nonce()
        for name, value in page_headers(self._nonce).items():
            self.set_header(name, value)

    def _render(self, status: int, page: Page) -> None:
        self.set_status(status)
        self.finish(render_page(page, nonce=self._nonce))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error (including Jupyter's own 403) is rendered as our page, with our headers."""
        for name, value in page_headers(self._nonce).items():
            self.set_header(name, value)
        if status_code == 403:
            page = Page(
                ok=False,
                outcome="not_authenticated",
                title="Not logged in to Jupyter",
                message="This browser is not logged in to the Jupyter server that started the login. "
                "Log in to Jupyter, then click \"Log in\" in the notebook again.",
            )
        else:
            page = Page(
                ok=False,
                outcome="server_error",
                title="Login failed",
                message="Something went wrong while finishing the login. Click \"Log in\" in the "
                "notebook to try again; if it keeps failing, check the Jupyter server log.",
            )
        self.set_status(status_code)
        self.finish(render_page(page, nonce=self._nonce))

    def _params(self) -> dict[str, str] | None:
        """The query as a dict (first value of each name), or ``None`` if anything is too long."""
        if len(self.request.query) > 4 * self.max_parameter_length:
            return None
        params: dict[str, str] = {}
        for name, values in self.request.query_arguments.items():
            if len(name) > 64 or not values:
                return None
            value = values[0].decode("utf-8", errors="replace")
            if len(value) > self.max_parameter_length:
                return None
            params[name] = value
        return params

    @web.authenticated
    async def get(self) -> None:
        """Finish the login named by ``state`` (see the class docstring for status codes)."""
        params = self._params()
        if params is None:
            self._render(400, Page(False, "invalid_request", "Login failed",
                                   "The login callback's parameters are too long. "
                                   "Click \"Log in\" in the notebook to start again."))
            return
        if params.get("error"):
            await self._render_refusal(params)
            return
        if not params.get("code"):
            self._render(400, Page(False, "invalid_request", "Login failed",
                                   "The login callback carried no authorization code. "
                                   "Click \"Log in\" in the notebook to start again."))
            return
        if not params.get("state"):
            self._render(400, Page(False, "invalid_state", "Login failed",
                                   "The login callback carried no state, so it cannot be matched to "
                                   "a login started in a notebook. Click \"Log in\" to start again."))
            return
        try:
            status = await self.run_blocking(self.backend.complete, params)
        except CoderError as exc:
            self._render_error(exc)
            return
        who = f" as {status.username}" if status.username else ""
        self._render(200, Page(True, "logged_in", "Logged in",
                               f"Logged in to {status.deployment_url}{who}. You can close this window."))

    async def _render_refusal(self, params: Mapping[str, str]) -> None:
        """Coder redirected with ``error=…``: let the engine drop the pending login (so the
        notebook learns at once), then show Coder's reason, escaped."""
        try:
            await self.run_blocking(self.backend.complete, params)
        except LoginStateError as exc:
            # It matched no login (a forged or stale link): refused like any unknown state, and
            # Coder's words are not shown as if they were about the user's login.
            self._render_error(exc)
            return
        except CoderError as exc:
            self._render_error(exc, coder_error=params.get("error"),
                               coder_description=params.get("error_description"))
            return
        # The engine accepted an error callback as a login: never trust that.
        self._render(400, Page(False, "invalid_request", "Login failed", "Coder refused the login."))

    def _render_error(self, exc: CoderError, *, coder_error: str | None = None,
                      coder_description: str | None = None) -> None:
        description = printable(coder_description, 500) if coder_description else None
        if isinstance(exc, AccessDeniedError) or coder_error == "access_denied":
            self._render(403, Page(False, "access_denied", "Login cancelled",
                                   "You cancelled on Coder's consent page; nothing was saved. This window "
                                   "closes by itself (if it stays open, you can close it). Use \"Log in "
                                   "again\" in the notebook when you are ready.", description))
        elif coder_error is not None:
            self._render(400, Page(False, "invalid_request", "Login failed",
                                   f"Coder refused the login ({printable(coder_error, 100)}). Nothing was "
                                   "saved. Click \"Log in\" in the notebook to try again.", description))
        elif isinstance(exc, LoginStateError):
            self._render(400, Page(False, "invalid_state", "Login link expired or already used",
                                   "This login link is unknown, was already used, or has expired. "
                                   "Click \"Log in\" in the notebook to start a new login."))
        elif isinstance(exc, InvalidGrantError):
            self._render(400, Page(False, "invalid_grant", "Login failed",
                                   "Coder did not accept the authorization code (it may have expired "
                                   "or been used already). Click \"Log in\" in the notebook to try again.",
                                   printable(exc.error_description, 500) if exc.error_description else None))
        elif isinstance(exc, (TransportError, OAuthError)):
            self._render(502, Page(False, "server_error", "Login failed",
                                   "The Coder deployment could not complete the login. Try again in a "
                                   "moment; if it keeps failing, ask your Coder administrator.",
                                   printable(exc, 500)))
        else:
            self._render(500, Page(False, "server_error", "Login failed", printable(exc, 500)))


class _JSONHandler(_CoderHandlerMixin, APIHandler):
    """Base of the JSON routes: authenticated, XSRF-checked on POST, never cached."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")

    def send(self, body: Mapping[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def send_error_json(self, status: int, exc: CoderError) -> None:
        self.send({"message": str(exc), "error": type(exc).__name__}, status)

    async def answer(self, work: Callable[[], Mapping[str, Any]]) -> None:
        """Run ``work`` (blocking; returns the JSON body) off the loop and send its body. The one
        mapping of failures: 409 for a missing or bad configuration (the admin's to fix), 502
        when Coder failed."""
        try:
            body = await self.run_blocking(work)
        except ConfigurationError as exc:
            self.send_error_json(409, exc)
        except CoderError as exc:
            self.send_error_json(502, exc)
        else:
            self.send(body)

    def status_body(self) -> dict[str, Any]:
        """Blocking: :func:`status_json` plus ``deployments_in_use`` (the status bar names the host
        in its text when it is more than one)."""
        return {**status_json(self.backend.status()), "deployments_in_use": self.backend.deployments_in_use()}

    async def current_status(self) -> dict[str, Any]:
        return await self.run_blocking(self.status_body)


class StatusHandler(_JSONHandler):
    """``GET coder/api/status`` — the configured deployment's login status."""

    @web.authenticated
    async def get(self) -> None:
        """Reply with :func:`status_json` of the configured deployment."""
        try:
            self.send(await self.current_status())
        except CoderError as exc:
            self.send_error_json(502, exc)


class LoginHandler(_JSONHandler):
    """``POST coder/api/login`` — start an OAuth login whose callback is this server's route."""

    def _default_redirect_uri(self) -> str:
        path = url_path_join(self.base_url, CALLBACK_PATH)
        return f"{self.request.protocol}://{self.request.host}{path}"

    def _is_our_callback(self, uri: str) -> bool:
        parts = urlsplit(uri)
        return (
            parts.scheme in ("http", "https")
            and parts.netloc.lower() == self.request.host.lower()
            and parts.path == url_path_join(self.base_url, CALLBACK_PATH)
            and not parts.query
            and not parts.fragment
            and not parts.username
        )

    @web.authenticated
    async def post(self) -> None:
        """Body ``{"redirect_uri": "…"}`` (optional) → ``{"authorization_url", "redirect_uri",
        "expires_at"}``; 400 if ``redirect_uri`` is not this server's callback URL."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The body must be JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "The body must be a JSON object.")
        redirect_uri = body.get("redirect_uri") or self._default_redirect_uri()
        if not usable_redirect_uri(redirect_uri) or not self._is_our_callback(redirect_uri):
            raise web.HTTPError(
                400, "redirect_uri must be this Jupyter server's coder/oauth/callback URL."
            )

        def begin() -> dict[str, Any]:
            started = self.backend.begin_login(redirect_uri)
            return {
                "authorization_url": started.authorization_url,
                "redirect_uri": started.redirect_uri,
                "expires_at": started.expires_at,
            }

        await self.answer(begin)


class LogoutHandler(_JSONHandler):
    """``POST coder/api/logout`` — revoke and forget the credentials; reply with the new status."""

    @web.authenticated
    async def post(self) -> None:
        """Log out of the configured deployment (best effort revocation, see ``LogoutReport``)."""

        def logout() -> dict[str, Any]:
            report = self.backend.logout()
            body = self.status_body()
            body["logout"] = {
                "revoked": report.revoked,
                "revoked_detail": report.revoked_detail,
                "local_credentials": report.local_credentials,
                "registration": report.registration,
            }
            return body

        await self.answer(logout)


class CancelHandler(_JSONHandler):
    """``POST coder/api/cancel`` — drop the pending login; reply with the new status."""

    @web.authenticated
    async def post(self) -> None:
        """Cancel the pending login of the configured deployment, if any."""

        def cancel() -> dict[str, Any]:
            self.backend.cancel()
            return self.status_body()

        await self.answer(cancel)


class CliHandler(_JSONHandler):
    """``GET/POST/DELETE coder/api/cli`` — share the login with the Coder CLI in terminals."""

    async def _cli(self, work: Callable[[], object]) -> None:
        def run() -> dict[str, Any]:
            try:
                work()
            except CliSessionConflictError as exc:
                return {**self.backend.cli_status(), "conflict": str(exc)}
            return self.backend.cli_status()

        try:
            body = await self.run_blocking(run)
        except (ConfigurationError, NotLoggedInError) as exc:
            self.send_error_json(409, exc)
        except CoderError as exc:
            self.send_error_json(502, exc)
        else:
            self.send(body)

    @web.authenticated
    async def get(self) -> None:
        """Where the CLI shares the configured deployment's login."""
        await self._cli(lambda: None)

    @web.authenticated
    async def post(self) -> None:
        """Body ``{"force": false}``: write the terminals' CLI config (see the module docstring)."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The body must be JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("force", False), bool):
            raise web.HTTPError(400, 'The body must be a JSON object like {"force": false}.')
        force = bool(body.get("force", False))
        await self._cli(lambda: self.backend.share_terminals(force=force))

    @web.authenticated
    async def delete(self) -> None:
        """Stop sharing with terminals (only our own copy is removed)."""
        await self._cli(self.backend.stop_terminals)
