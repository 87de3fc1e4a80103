"""Turning HTTP response bodies into values or typed errors, shared by the RFC modules.

OAuth endpoints answer errors as ``{"error", "error_description", "error_uri"}`` (RFC 6749 §5.2,
RFC 7591 §3.2.2); Coder's own middleware answers some with ``{"message", "detail"}``
(``codersdk.Response``), and proxies answer with HTML. Each becomes an
:class:`~coder_jupyter.errors.OAuthError` subclass whose message says what happened and what to
do. Server text is cleaned (printable, bounded) before it goes into a message; request secrets
never reach this module, so they cannot leak through it.
"""

from __future__ import annotations

import json
from typing import Any

from .._public import printable
from ..errors import (
    AccessDeniedError,
    CoderAPIError,
    InvalidClientError,
    InvalidGrantError,
    InvalidMetadataError,
    OAuthError,
    TransportError,
)

__all__ = ["error_from_response", "is_transient", "json_object", "malformed", "printable"]

_ERROR_CLASSES: dict[str, type[OAuthError]] = {
    "invalid_grant": InvalidGrantError,
    "invalid_client": InvalidClientError,
    "unauthorized_client": InvalidClientError,
    "access_denied": AccessDeniedError,
}

_TRANSIENT_CODES = frozenset({"server_error", "temporarily_unavailable"})


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body parsed as a JSON object, or ``None`` if it is empty, not JSON, or not an object."""
    try:
        value = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _str_or_none(value: object) -> str | None:
    return printable(value) if isinstance(value, str) and value else None


def error_from_response(status: int, body: bytes, *, doing: str, hint: str) -> OAuthError:
    """The typed error for a failed OAuth request.

    Args:
        status: the HTTP status.
        body: the response body (OAuth JSON, Coder JSON, or anything else).
        doing: what we were doing, for the message, e.g. ``"Refreshing the Coder session"``.
        hint: the next step shown when the error code does not suggest a better one.

    Returns:
        An :class:`OAuthError` (or subclass: ``invalid_grant`` → :class:`InvalidGrantError`,
        ``invalid_client`` → :class:`InvalidClientError`, ``access_denied`` →
        :class:`AccessDeniedError`) carrying ``error``, ``error_description``, ``error_uri`` and
        ``status``. Message: ``"Refreshing the Coder session failed: invalid_grant (The refresh
        token is invalid or expired). Log in again."``
    """
    data = json_object(body) or {}
    code = _str_or_none(data.get("error"))
    description = _str_or_none(data.get("error_description"))
    uri = _str_or_none(data.get("error_uri"))
    if code is None:
        # Not an OAuth body: Coder's {"message", "detail"} or a proxy page.
        server = _str_or_none(data.get("message"))
        detail = _str_or_none(data.get("detail"))
        said = " — ".join(x for x in (server, detail) if x) or "no OAuth error in the response"
        if status >= 500:
            code = "server_error"
        return OAuthError(
            f"{doing} failed: HTTP {status} ({said}). {hint}",
            error=code,
            error_description=said if server else None,
            status=status,
        )
    cls = _ERROR_CLASSES.get(code, OAuthError)
    said = f"{code} ({description})" if description else code
    return cls(f"{doing} failed: {said}. {hint}", error=code, error_description=description,
               error_uri=uri, status=status)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying that say nothing about the credentials' validity.

    Network failures (:class:`~coder_jupyter.errors.TransportError`), HTTP 5xx and 429, and the
    OAuth codes ``server_error``/``temporarily_unavailable``. Such errors never drop credentials.
    """
    if isinstance(exc, TransportError):
        return True
    if isinstance(exc, OAuthError):
        status = exc.status or 0
        return status >= 500 or status == 429 or exc.error in _TRANSIENT_CODES
    if isinstance(exc, CoderAPIError):
        return exc.status >= 500 or exc.status == 429
    return False


def malformed(
    doing: str, what: str, hint: str = "Try again; if it persists, tell your Coder administrator."
) -> InvalidMetadataError:
    """The error for a success status whose body is unusable (empty, not JSON, missing fields)."""
    message = f"{doing} failed: the server's answer {what}. {hint}"
    return InvalidMetadataError(message, error="invalid_response")
