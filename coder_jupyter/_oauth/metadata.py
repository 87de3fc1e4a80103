"""RFC 8414 discovery: where the metadata lives, and parsing + validating what the server says.

Validation is what a login needs, nothing more: the authorization-code grant, the ``code``
response type and PKCE ``S256`` must be on offer, and every endpoint must be an absolute
http(s) URL.

**No downgrade** (RFC 8414 §2, RFC 9700 §2.6): when the deployment is ``https://``, every
endpoint must be ``https://`` too — the code, the PKCE verifier, the client secret and the
tokens travel to them. Metadata naming an ``http://`` endpoint is refused with
:class:`~coder_jupyter.errors.InvalidMetadataError` (``error="insecure_endpoint"``) naming the
field. A plain-``http://`` deployment is the user's explicit choice (tests and demos on
``http://127.0.0.1``) and may use ``http://`` endpoints.

Coder's "provider disabled" answers (G3: 404 ``Route not found``; G1: 403 "requires enabling the
'oauth2' experiment") become :class:`~coder_jupyter.errors.OAuthUnavailableError`
with the next step in plain words.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidMetadataError, OAuthUnavailableError
from .models import AuthServerMetadata
from .responses import json_object, malformed, printable

__all__ = ["API_TOKEN_ADVICE", "check_no_downgrade", "metadata_url", "parse_metadata"]

WELL_KNOWN = "/.well-known/oauth-authorization-server"

#: The next step when OAuth cannot be used: an API token.
API_TOKEN_ADVICE = " ".join((
    "Ask an administrator to enable it, or log in with an API token: create one with",
    "`coder tokens create` or in the dashboard (Account → Tokens) and set CODER_SESSION_TOKEN",
    "(or call coder.auth.login_with_token()).",
))


def metadata_url(deployment_url: str) -> str:
    """The metadata URL for a deployment: ``<deployment>/.well-known/oauth-authorization-server``.

    Coder serves the document under its own root, also when it runs below a path prefix, so the
    well-known segment is appended (not inserted before the path as RFC 8414 §3.1 does for
    issuers with a path: Coder's issuer is its access URL).
    """
    return deployment_url.rstrip("/") + WELL_KNOWN


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:  # "https://[::1" and other malformed hosts
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def check_no_downgrade(deployment_url: str, field: str, url: str | None, *, doing: str) -> None:
    """Refuse an ``http://`` ``url`` (found in ``field``) for an ``https://`` deployment.

    Raises:
        InvalidMetadataError: ``error="insecure_endpoint"``, naming ``field``.
    """
    def scheme(u: str) -> str:
        return u.partition(":")[0].strip().lower()

    if url is None or scheme(deployment_url) != "https":
        return
    if scheme(url) != "https":
        raise InvalidMetadataError(
            f"{doing} failed: {deployment_url} uses https, but its {field!r} is not https "
            f"({printable(url, 200)}). coder_jupyter never sends a code, secret or token in clear "
            "text; something may be rewriting Coder's answers. Ask your Coder administrator to "
            "check the access URL (CODER_ACCESS_URL).",
            error="insecure_endpoint",
        )


def _comparable(url: str) -> tuple[str, str, str]:
    """``url`` as RFC 8414 §3.3 compares issuers, forgiving only case, default ports and a
    trailing slash (Coder's issuer is its access URL, usually without one)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return scheme, netloc, parts.path.rstrip("/")


def _str_list(data: dict[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise malformed("Reading the OAuth2 metadata", f"has a malformed {key!r} (not a list of strings)")
    return tuple(value)


def parse_metadata(status: int, body: bytes, *, deployment_url: str) -> AuthServerMetadata:
    """Parse and validate the answer to ``GET /.well-known/oauth-authorization-server``.

    Args:
        status: the HTTP status.
        body: the response body.
        deployment_url: the deployment, for messages.

    Returns:
        The validated :class:`AuthServerMetadata`.

    Raises:
        OAuthUnavailableError: 404 (G3 provider off, or no OAuth at all) or 403 with Coder's
            experiment message (G1). Message: ``"https://coder.example.com does not offer OAuth2
            login (its OAuth2 provider is disabled). Ask an administrator to enable it, or log in
            with an API token: …"``
        InvalidMetadataError: another error status, a body that is not a JSON object, a missing
            or non-absolute endpoint, or no support for the code grant or S256.
    """
    # Long on purpose: one linear pass in the order RFC 8414 is read (status, shape, issuer,
    # capabilities), each check raising its own typed error; split, the order would be lost.
    data = json_object(body)
    if status in (404, 410):
        raise OAuthUnavailableError(
            f"{deployment_url} does not offer OAuth2 login (its OAuth2 provider is disabled or "
            f"absent). {API_TOKEN_ADVICE}",
            error="oauth_unavailable",
            status=status,
        )
    if status == 403:
        message = printable((data or {}).get("message", ""))
        if "experiment" in message.lower():
            raise OAuthUnavailableError(
                f"{deployment_url} does not offer OAuth2 login: its 'oauth2' experiment is not enabled "
                f"({message}). {API_TOKEN_ADVICE}",
                error="oauth_unavailable",
                error_description=message or None,
                status=status,
            )
    if status != 200:
        said = printable((data or {}).get("message", "")) or "no explanation"
        raise InvalidMetadataError(
            f"Reading the OAuth2 metadata of {deployment_url} failed: HTTP {status} ({said}). "
            "Check the deployment URL; if it is right, try again later or log in with an API token.",
            error="invalid_response",
            status=status,
        )
    if data is None:
        raise malformed("Reading the OAuth2 metadata", "is not a JSON object",
                        f"Check the deployment URL ({deployment_url}).")
    for key in ("issuer", "authorization_endpoint", "token_endpoint"):
        if not _is_http_url(data.get(key)):
            raise malformed("Reading the OAuth2 metadata", f"has no usable {key!r}",
                            "It is not a usable OAuth 2 authorization server; log in with an API token.")
    issuer = str(data["issuer"])
    if _comparable(issuer) != _comparable(deployment_url):
        # RFC 8414 §3.3: the issuer must be the URL the metadata was fetched for; a mismatch
        # means another server answers here (mix-up defence, RFC 9700 §4.4) or CODER_URL is an alias.
        raise InvalidMetadataError(
            f"{deployment_url} published OAuth2 metadata for another address, {issuer}. If that is "
            f"your deployment's address, use it instead (set CODER_URL={issuer}); otherwise something "
            "between you and Coder answers in its place.",
            error="issuer_mismatch",
        )
    optional: dict[str, str | None] = {}
    for key in ("revocation_endpoint", "registration_endpoint"):
        value = data.get(key)
        optional[key] = value if _is_http_url(value) else None
    endpoints = {"authorization_endpoint": str(data["authorization_endpoint"]),
                 "token_endpoint": str(data["token_endpoint"]), **optional}
    for key, url in endpoints.items():
        check_no_downgrade(deployment_url, key, url, doing="Reading the OAuth2 metadata")

    response_types = _str_list(data, "response_types_supported", ())
    # RFC 8414 §2: an omitted grant list means authorization_code and implicit.
    grant_types = _str_list(data, "grant_types_supported", ("authorization_code", "implicit"))
    # An omitted list is read as S256-capable: OAuth 2.1 servers must support PKCE, and old Coder
    # (G1) accepted S256 without advertising it. A list without S256 is refused.
    challenge_methods = _str_list(data, "code_challenge_methods_supported", ("S256",))
    auth_methods = _str_list(data, "token_endpoint_auth_methods_supported", ("client_secret_basic",))
    scopes = _str_list(data, "scopes_supported", ())

    missing = []
    if response_types and "code" not in response_types:
        missing.append("the 'code' response type")
    if "authorization_code" not in grant_types:
        missing.append("the authorization_code grant")
    if "S256" not in challenge_methods:
        missing.append("PKCE with S256")
    if missing:
        raise InvalidMetadataError(
            f"{deployment_url} cannot be used for OAuth2 login: it does not support "
            f"{' or '.join(missing)}. {API_TOKEN_ADVICE}",
            error="unsupported_server",
        )
    return AuthServerMetadata(
        issuer=issuer,
        authorization_endpoint=str(data["authorization_endpoint"]),
        token_endpoint=str(data["token_endpoint"]),
        revocation_endpoint=optional["revocation_endpoint"],
        registration_endpoint=optional["registration_endpoint"],
        response_types_supported=response_types or ("code",),
        grant_types_supported=grant_types,
        code_challenge_methods_supported=challenge_methods,
        token_endpoint_auth_methods_supported=auth_methods,
        scopes_supported=scopes,
    )
