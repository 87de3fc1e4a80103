"""The authorization request (RFC 6749 §4.1.1 + RFC 7636 §4.3) and its callback (§4.1.2).

:func:`authorization_url` sends only the parameters every Coder generation documents
(``response_type``, ``client_id``, ``redirect_uri``, ``state``, ``code_challenge``,
``code_challenge_method`` and, if asked, ``scope``): G1/G2 reject unknown parameters.

:func:`parse_callback` reads a callback URL or query mapping; :func:`check_callback` then checks,
in this order, ``error`` → ``code`` → ``state`` (the order jupyterhub's oauthenticator uses), so the
user hears "you pressed Cancel" rather than "state mismatch" when both apply.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import AccessDeniedError, LoginStateError, OAuthError
from .models import AuthServerMetadata, PendingLogin
from .responses import printable

__all__ = ["CallbackParams", "authorization_url", "check_callback", "parse_callback"]


def authorization_url(
    metadata: AuthServerMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    code_challenge: str,
    scope: str | None = None,
) -> str:
    """The URL to open in the browser. It holds the S256 challenge and ``state``, never the verifier.

    Parameters already in ``authorization_endpoint``'s query are kept (RFC 6749 §3.1).
    """
    parts = urlsplit(metadata.authorization_endpoint)
    params = parse_qsl(parts.query, keep_blank_values=True)
    params += [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ]
    if scope:
        params.append(("scope", scope))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))


@dataclass(frozen=True)
class CallbackParams:
    """The parameters of an authorization callback, percent-decoded. ``code`` is secret."""

    code: str | None = field(default=None, repr=False)
    state: str | None = field(default=None, repr=False)
    error: str | None = None
    error_description: str | None = None
    error_uri: str | None = None


def parse_callback(callback: str | Mapping[str, str]) -> CallbackParams:
    """Read a callback: a full URL (``http://127.0.0.1:8123/callback?code=…&state=…``), a bare
    query string (``code=…&state=…``), or an already-decoded mapping (a web framework's query).

    Empty values count as absent. ``error_description`` is cleaned to printable text.
    """
    if isinstance(callback, str):
        text = callback.strip()
        query = text.partition("?")[2] if "?" in text or "://" in text else text.lstrip("?")
        query = query.partition("#")[0]
        pairs: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            pairs.setdefault(key, value)
        values: Mapping[str, str] = pairs
    else:
        values = callback

    def get(name: str) -> str | None:
        value = values.get(name)
        return value if isinstance(value, str) and value else None

    description = get("error_description")
    return CallbackParams(
        code=get("code"),
        state=get("state"),
        error=printable(get("error"), 100) if get("error") else None,
        error_description=printable(description, 500) if description else None,
        error_uri=printable(get("error_uri"), 500) if get("error_uri") else None,
    )


_ERROR_HINTS = {
    "access_denied": "The login was cancelled on Coder's consent page. Click \"Log in\" to try again.",
    "invalid_scope": "The requested scope is not allowed for this client. Ask your Coder administrator.",
    "unsupported_response_type": "This Coder version does not accept the request. Log in with an API token.",
}


def check_callback(params: CallbackParams, pending: PendingLogin | None, *, now: float) -> str:
    """Check a callback against the pending login it belongs to; return the authorization code.

    Args:
        params: from :func:`parse_callback`.
        pending: the pending login taken from the store by ``params.state`` (single use), or by
            elimination when an old Coder sent ``error=access_denied`` without ``state``; ``None``
            when none was found (unknown or replayed state).
        now: Unix seconds.

    Raises:
        AccessDeniedError: ``error=access_denied`` (the user pressed Cancel).
        OAuthError: any other ``error`` (RFC 6749 §4.1.2.1), or no ``code``.
        LoginStateError: ``state`` missing, unknown, already used, expired, or not the pending
            login's.
    """
    if params.error is not None:
        hint = _ERROR_HINTS.get(params.error, "Click \"Log in\" to try again.")
        said = f"{params.error} ({params.error_description})" if params.error_description else params.error
        cls = AccessDeniedError if params.error == "access_denied" else OAuthError
        raise cls(f"Coder refused the login: {said}. {hint}", error=params.error,
                  error_description=params.error_description, error_uri=params.error_uri)
    if params.code is None:
        raise OAuthError("The login callback carried no authorization code. Click \"Log in\" to try again.",
                         error="invalid_request")
    if params.state is None:
        raise LoginStateError("The login callback carried no state, so it cannot be matched to a login "
                              "started here. Click \"Log in\" to try again.", error="invalid_state")
    if pending is None:
        raise LoginStateError("This login link is unknown, was already used, or has expired. "
                              "Click \"Log in\" to start a new login.", error="invalid_state")
    if not hmac.compare_digest(params.state.encode(), pending.state.encode()):
        raise LoginStateError("The login callback does not belong to the pending login (state mismatch). "
                              "Click \"Log in\" to start a new login.", error="invalid_state")
    if now >= pending.expires_at:
        raise LoginStateError("This login took too long and expired. Click \"Log in\" to start a new login.",
                              error="expired_state")
    return params.code
