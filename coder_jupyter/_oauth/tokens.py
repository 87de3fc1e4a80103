"""Token endpoint (RFC 6749 §4.1.3, §6, §5.1/§5.2) and revocation (RFC 7009) requests and answers.

Requests are described by :class:`FormRequest` (method, URL, headers, form); the flows turn them
into HTTP. Client authentication follows the registration:

* ``client_secret_basic`` — ``Authorization: Basic base64(urlencode(id):urlencode(secret))``
  (RFC 6749 §2.3.1), plus ``client_id`` in the form, which Coder's app lookup reads and which
  agrees with the header;
* ``client_secret_post`` — ``client_id`` and ``client_secret`` in the form;
* ``none`` — ``client_id`` only (a public client; PKCE protects the code).

Credentials are always sent, also on refresh (Coder G1 did not check them there; G3 does).
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from .models import AuthServerMetadata, ClientRegistration, TokenSet
from .responses import error_from_response, json_object, malformed

__all__ = [
    "FormRequest",
    "code_request",
    "parse_revocation",
    "parse_token_response",
    "refresh_request",
    "revocation_request",
]


@dataclass(frozen=True)
class FormRequest:
    """An ``application/x-www-form-urlencoded`` POST to send. Headers and form hold secrets."""

    url: str
    form: dict[str, str] = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    method: str = "POST"


def _with_client_auth(url: str, registration: ClientRegistration, form: dict[str, str]) -> FormRequest:
    headers = {"Accept": "application/json"}
    form = {**form, "client_id": registration.client_id}
    method = registration.token_endpoint_auth_method
    secret = registration.client_secret
    if secret and method == "client_secret_post":
        form["client_secret"] = secret
    elif secret and method != "none":
        pair = f"{quote(registration.client_id, safe='')}:{quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return FormRequest(url=url, form=form, headers=headers)


def code_request(
    metadata: AuthServerMetadata,
    registration: ClientRegistration,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> FormRequest:
    """The access token request for an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    return _with_client_auth(metadata.token_endpoint, registration, form)


def refresh_request(
    metadata: AuthServerMetadata, registration: ClientRegistration, *, refresh_token: str
) -> FormRequest:
    """The refresh request (RFC 6749 §6). No ``scope``: the grant's scope is kept."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _with_client_auth(metadata.token_endpoint, registration, form)


def revocation_request(
    metadata: AuthServerMetadata,
    registration: ClientRegistration,
    *,
    token: str,
    token_type_hint: str = "refresh_token",  # noqa: S107
) -> FormRequest:
    """The RFC 7009 §2.1 revocation request. Revoking the refresh token also ends its access token.

    Raises:
        ValueError: if the metadata advertises no ``revocation_endpoint``.
    """
    if not metadata.revocation_endpoint:
        raise ValueError("the authorization server advertises no revocation_endpoint")
    form = {"token": token, "token_type_hint": token_type_hint}
    return _with_client_auth(metadata.revocation_endpoint, registration, form)


def _parse_expiry(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go writes up to 9 fractional digits; Python 3.10's fromisoformat takes at most 6.
    match = re.fullmatch(r"(.*?\.)(\d+)(.*)", text)
    if match:
        text = f"{match[1]}{match[2][:6].ljust(6, '0')}{match[3]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def parse_token_response(
    status: int,
    body: bytes,
    *,
    now: float,
    client_id: str | None,
    doing: str = "Logging in to Coder",
    previous_refresh_token: str | None = None,
) -> TokenSet:
    """Parse a token endpoint answer (RFC 6749 §5.1 success, §5.2 error).

    Args:
        status, body: the HTTP answer.
        now: Unix seconds when the answer arrived (``expires_at = now + expires_in``).
        client_id: recorded in the token set (which client the tokens belong to).
        doing: what we were doing, for error messages.
        previous_refresh_token: kept when a refresh answer carries no new refresh token (§6).

    Raises:
        InvalidGrantError: ``invalid_grant`` (code or refresh token invalid, expired, used).
        InvalidClientError: ``invalid_client``.
        OAuthError: any other §5.2 error, or a non-OAuth error status (``status`` set; 5xx get
            ``error="server_error"``).
        InvalidMetadataError: a 200 with an empty, non-JSON or incomplete body.
    """
    if status != 200:
        raise error_from_response(status, body, doing=doing, hint=_hint_for(status, body))
    data = json_object(body)
    if data is None:
        raise malformed(doing, "is empty or not a JSON object")
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise malformed(doing, "has no access_token")
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise malformed(doing, f"has an unsupported token_type ({str(token_type)[:20]!r})")
    refresh = data.get("refresh_token")
    if refresh is not None and not isinstance(refresh, str):
        raise malformed(doing, "has a malformed refresh_token")
    expires_in = data.get("expires_in")
    expires_at: float | None = None
    if isinstance(expires_in, str) and expires_in.strip().lstrip("-").isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) \
            and math.isfinite(expires_in):
        expires_at = now + max(0.0, float(expires_in))
    else:
        expires_at = _parse_expiry(data.get("expiry"))
    scope = data.get("scope")
    return TokenSet(
        access_token=access,
        token_type="Bearer",  # noqa: S106
        refresh_token=refresh or previous_refresh_token,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) and scope else None,
        obtained_at=now,
        method="oauth",
        client_id=client_id,
    )


def _hint_for(status: int, body: bytes) -> str:
    code = (json_object(body) or {}).get("error")
    if code == "invalid_grant":
        return "Log in again."
    if code in ("invalid_client", "unauthorized_client"):
        return "The OAuth2 client is no longer accepted; log in again to register it anew."
    if status >= 500 or status == 429:
        return "The deployment is having trouble; try again in a moment."
    return "Log in again; if it persists, tell your Coder administrator."


def parse_revocation(status: int, body: bytes) -> None:
    """Check an RFC 7009 revocation answer: 200 (any body) is success (§2.2).

    Raises:
        OAuthError: any other status (``invalid_client`` → :class:`InvalidClientError`).
    """
    if status == 200:
        return
    raise error_from_response(status, body, doing="Revoking the token on Coder",
                              hint="The local credentials are forgotten anyway.")
