"""Every error coder_jupyter raises, under one root: :class:`CoderError`.

The tree::

    CoderError
    ├── ConfigurationError (ValueError)      bad CODER_URL, header command failed, bad TLS file ...
    ├── NotLoggedInError                     no credentials yet: log in (widget, %coder login, coder.auth)
    ├── TransportError                       the deployment could not be reached (DNS, refused, TLS, timeout)
    │   ├── ResponseTooLargeError            an answer exceeded the response size cap
    │   └── DeadlineExceededError            a request outlived the per-request deadline (TimeoutError)
    ├── UnexpectedResponseError              not the answer the call expects (HTML, a 3xx, bad JSON)
    ├── OAuthError                           an OAuth 2.x error (RFC 6749 §5.2 / §4.1.2.1, RFC 7591 §3.2.2)
    │   ├── OAuthUnavailableError            the deployment's OAuth2 provider is off: use an API token
    │   ├── RegistrationUnavailableError     dynamic client registration is off: use a pre-registered client
    │   ├── InvalidMetadataError             discovery document unusable (no code grant, no S256, bad JSON)
    │   ├── InvalidClientError               the client id/secret is not accepted
    │   ├── InvalidGrantError                code or refresh token invalid, expired or already used
    │   ├── AccessDeniedError                the user pressed Cancel on the consent page
    │   └── LoginStateError                  callback state unknown, expired, replayed or mismatched
    ├── LoginTimeoutError (TimeoutError)     no callback arrived in time
    ├── LoginCancelledError                  the login was cancelled in the notebook
    ├── CliSessionConflictError              the Coder CLI already holds a session we did not write
    ├── CoderAPIError                        the REST API answered with an error status
    │   ├── AuthenticationError              401: log in again
    │   ├── PermissionDeniedError            403: your role does not allow this
    │   │   └── InsufficientScopeError   the login's OAuth scope does not allow this (a PermissionError;
    │   │                                    403, or a 404/empty answer the client recognises)
    │   ├── NotFoundError (LookupError)      404: names what was not found
    │   ├── ValidationError (ValueError)     400 with Coder's ``validations`` list
    │   ├── RateLimitedError                 429, with ``retry_after``
    │   └── ServerError                      5xx
    ├── BuildFailedError                     a workspace build ended ``failed``/``canceled``
    └── WaitTimeoutError (TimeoutError)      waiting for a build took longer than the timeout

Messages say what happened and what to do next. No message, ``repr`` or ``args`` of these
exceptions ever contains a secret (access/refresh token, client secret, PKCE verifier,
authorization code): the constructors take only the server's public error text and URLs
without their query string.

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import linecache
import os
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AccessDeniedError",
    "AuthenticationError",
    "BuildFailedError",
    "CliSessionConflictError",
    "CoderAPIError",
    "CoderError",
    "ConfigurationError",
    "DeadlineExceededError",
    "InsufficientScopeError",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidMetadataError",
    "LoginCancelledError",
    "LoginStateError",
    "LoginTimeoutError",
    "NotFoundError",
    "NotLoggedInError",
    "OAuthError",
    "OAuthUnavailableError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RegistrationUnavailableError",
    "ResponseTooLargeError",
    "ServerError",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
    "WaitTimeoutError",
]


#: Set to 1 to see the full traceback of our errors in IPython (else: ``%coder traceback``).
FULL_TRACEBACKS_ENV = "CODER_JUPYTER_FULL_TRACEBACKS"

_PACKAGE_DIR = Path(__file__).resolve().parent


def _full_tracebacks() -> bool:
    return os.environ.get(FULL_TRACEBACKS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _user_frame(exc: BaseException) -> tuple[str, int] | None:
    """The innermost frame outside this package before the error entered it: the user's line."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    user = None
    for frame in frames:
        if Path(frame.filename).resolve().is_relative_to(_PACKAGE_DIR):
            break
        user = frame
    if user is None or user.lineno is None:
        return None
    return user.filename, user.lineno


def _where(filename: str, lineno: int) -> str:
    # IPython and ipykernel compile cells to "<ipython-input-…>" or a temporary "…/ipykernel_…/….py".
    in_cell = filename.startswith("<ipython-input") or "ipykernel_" in filename
    place = f"your cell, line {lineno}" if in_cell else f"{filename}, line {lineno}"
    source = linecache.getline(filename, lineno).strip()
    return f"  in {place}: {source}" if source else f"  in {place}"


class CoderError(Exception):
    """Root of every exception raised by coder_jupyter.

    In IPython and Jupyter an error of ours shows as its message and the user's own line, not
    the internal frames (:meth:`_render_traceback_`). The full traceback: ``%coder traceback``
    after the fact, or ``CODER_JUPYTER_FULL_TRACEBACKS=1`` for every error.
    """

    def _render_traceback_(self) -> list[str]:
        """IPython's hook: the lines it shows for this exception (see the class docstring)."""
        if _full_tracebacks():
            return [line.rstrip("\n") for line in traceback.format_exception(self)]
        lines = [f"{type(self).__name__}: {self}"]
        found = _user_frame(self)
        if found is not None:
            lines.append(_where(*found))
        lines.append(f"(Full traceback: %coder traceback, or set {FULL_TRACEBACKS_ENV}=1.)")
        return lines


class ConfigurationError(CoderError, ValueError):
    """The configuration (environment, traitlets, arguments) cannot be used as given."""


class NotLoggedInError(CoderError):
    """No credentials are available for the deployment.

    Message: ``Not logged in to https://coder.example.com — click "Log in" on the widget above,
    run %coder login, or set CODER_SESSION_TOKEN.``
    """


class TransportError(CoderError):
    """The deployment could not be reached, or the connection broke.

    ``url`` is the request URL without its query string.
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ResponseTooLargeError(TransportError):
    """An answer was larger than the response size cap; reading stopped there.

    ``limit`` is the cap in bytes. Message: ``GET https://coder.example.com/api/v2/users/me sent
    more than 64 MiB, the response size cap. Raise it with CODER_JUPYTER_MAX_RESPONSE_BYTES or
    c.CoderConfig.max_response_bytes if the answer is legitimate.``
    """

    def __init__(self, message: str, *, url: str | None = None, limit: int = 0) -> None:
        super().__init__(message, url=url)
        self.limit = limit


class DeadlineExceededError(TransportError, TimeoutError):
    """A request (connect, headers and whole body) took longer than the per-request deadline.

    ``limit`` is the deadline in seconds. It bounds a server that trickles its answer, which the
    per-read ``timeout`` alone cannot.
    """

    def __init__(self, message: str, *, url: str | None = None, limit: float = 0.0) -> None:
        super().__init__(message, url=url)
        self.limit = limit


class UnexpectedResponseError(CoderError):
    """An answer that is not what the call expects: an HTML page (a proxy, a captive portal), a
    redirect (never followed, so credentials never reach another origin), or a body that is not
    the JSON the call reads.

    Attributes:
        method, url: the request (the URL without its query string).
        status: the HTTP status.
        content_type: the answer's ``Content-Type`` (``""`` when absent).
    """

    def __init__(self, message: str, *, method: str, url: str, status: int, content_type: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.content_type = content_type


class OAuthError(CoderError):
    """An OAuth error response (RFC 6749 §5.2, §4.1.2.1; RFC 7591 §3.2.2).

    Attributes mirror the wire fields: ``error`` (the code, e.g. ``invalid_grant``),
    ``error_description`` (the server's text, already percent-decoded) and ``error_uri``;
    ``status`` is the HTTP status when the error came from an HTTP response.
    """

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        error_uri: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        self.status = status


class OAuthUnavailableError(OAuthError):
    """The deployment does not offer OAuth2 (provider disabled, or the G1 experiment is off).

    Message: ``https://coder.example.com does not offer OAuth2 login (its OAuth2 provider is
    disabled). Ask an administrator to enable it, or log in with an API token: create one with
    `coder tokens create` or in the dashboard (Account → Tokens) and set CODER_SESSION_TOKEN.``
    """


class RegistrationUnavailableError(OAuthError):
    """Dynamic client registration is disabled and no pre-registered client is configured."""


class InvalidMetadataError(OAuthError):
    """The authorization-server metadata (or another success body) is unusable."""


class InvalidClientError(OAuthError):
    """The token endpoint rejected our client credentials (``invalid_client``)."""


class InvalidGrantError(OAuthError):
    """The authorization code or refresh token was rejected (``invalid_grant``)."""


class AccessDeniedError(OAuthError):
    """The user declined on the consent page (``access_denied``)."""


class LoginStateError(OAuthError):
    """The callback's ``state`` is unknown, expired, already used, or missing."""


class LoginTimeoutError(CoderError, TimeoutError):
    """The browser did not come back with a callback before the timeout."""


class LoginCancelledError(CoderError):
    """The pending login was cancelled (Cancel button, ``%coder logout``, a new login)."""


class CliSessionConflictError(CoderError):
    """Sharing the login with the Coder CLI in terminals would replace a session that someone
    else stored there (usually ``coder login``); nothing was changed. The message names the
    directory and says how to replace it anyway."""


class CoderAPIError(CoderError):
    """The Coder REST API answered with an error status.

    Attributes:
        status: the HTTP status code.
        server_message: Coder's ``message`` field (or ``None``).
        detail: Coder's ``detail`` field (or ``None``).
        validations: Coder's ``validations`` list of ``{"field", "detail"}``.
        hint: what to do next, in plain words.
        method, url: the request, the URL without its query string.
        response: the :class:`httpx.Response`, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        server_message: str | None = None,
        detail: str | None = None,
        validations: Sequence[Mapping[str, str]] = (),
        hint: str | None = None,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.server_message = server_message
        self.detail = detail
        self.validations = [dict(v) for v in validations]
        self.hint = hint
        self.method = method
        self.url = url
        self.response = response


class AuthenticationError(CoderAPIError):
    """401: the token is missing, expired or revoked. Log in again."""


class PermissionDeniedError(CoderAPIError):
    """403: the user's role does not allow this action."""


class InsufficientScopeError(PermissionDeniedError, PermissionError):
    """The login's OAuth scope does not allow this call, although the user may be allowed to make it.

    Coder enforces a token's scope from G4 on (reference §7 G4). A missing scope shows as a 403, a
    404 for a read, or an empty list; the client knows its granted scope and what each call
    needs, so it says which permission is missing instead of "not found". ``status`` is the HTTP
    status that revealed it (403 by default).

    Args:
        what: the call in words, e.g. ``starting workspace "alice/dev"``.
        permissions, scopes, granted, status: as the attributes below.
        **kwargs: the :class:`CoderAPIError` fields of the answer (``server_message``, ``url``, ...).

    Attributes (besides :class:`CoderAPIError`'s):
        permissions: the permissions the call needs and the login lacks, e.g. ``("workspace:start",)``.
        scopes: the scope names that would grant them, e.g. ``("coder:workspaces.operate",)``.
        granted: the scope names the login has.
        fix: the command that logs in again with the missing scopes added.

    Message::

        Your Coder login's scope does not allow starting workspace "alice/dev": it needs
        workspace:start, which coder:workspaces.operate grants.
        Log in again with a wider scope: %coder login --scopes "workspace:read coder:workspaces.operate"
    """

    def __init__(
        self,
        what: str = "this call",
        *,
        permissions: Sequence[str],
        scopes: Sequence[str],
        granted: Sequence[str],
        status: int = 403,
        **kwargs: Any,
    ) -> None:
        self.permissions = tuple(permissions)
        self.scopes = tuple(scopes)
        self.granted = tuple(granted)
        wanted = list(dict.fromkeys([*self.granted, *self.scopes]))
        self.fix = f'%coder login --scopes "{" ".join(wanted)}"'
        grants = "grant" if len(self.scopes) > 1 else "grants"
        message = (
            f"Your Coder login's scope does not allow {what}: it needs {_and(self.permissions)}, "
            f"which {_and(self.scopes)} {grants}.\nLog in again with a wider scope: {self.fix}"
        )
        kwargs.setdefault("hint", f"Log in again with a wider scope: {self.fix}")
        super().__init__(message, status=status, **kwargs)


def _and(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, (", ".join(names[:-1]), *names[-1:])))


class NotFoundError(CoderAPIError, LookupError):
    """404: the resource does not exist or the user cannot see it."""


class ValidationError(CoderAPIError, ValueError):
    """400: the server rejected the request's fields (see ``validations``)."""


class RateLimitedError(CoderAPIError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(CoderAPIError):
    """5xx: the deployment failed. Retry later or ask an administrator."""


class BuildFailedError(CoderError):
    """A workspace build ended in ``failed`` or ``canceled``.

    Attributes:
        build: the final build (a ``WorkspaceBuild`` model).
        status: the build's final status.
        logs: the last log lines (strings), most recent last.
    """

    def __init__(self, message: str, *, build: Any = None, status: str | None = None,
                 logs: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.build = build
        self.status = status
        self.logs = list(logs)


class WaitTimeoutError(CoderError, TimeoutError):
    """Waiting for a workspace build took longer than the timeout. ``build`` is the last state seen."""

    def __init__(self, message: str, *, build: Any = None) -> None:
        super().__init__(message)
        self.build = build
