"""OAuth flows as generators: ``Generator[httpx.Request, httpx.Response, T]``.

Each flow composes the sans-IO core (:mod:`coder_jupyter._oauth`) with HTTP: it builds a request,
yields it, receives the response and parses it. No flow sends anything itself — run one with
:func:`coder_jupyter._transport.drive` (sync) or :func:`~coder_jupyter._transport.adrive` (async),
or step it by hand in tests with ``next(flow)`` / ``flow.send(response)``::

    metadata = drive(discover("https://coder.example.com"), client)
    registration = drive(ensure_registration(metadata, None, redirect_uri=uri,
                                             deployment_url=url), client)

Flows never log request bodies or headers (they hold secrets); URLs they put into messages have
no query string.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from ._oauth import metadata as _metadata
from ._oauth import registration as _registration
from ._oauth import scopes as _scopes
from ._oauth import tokens as _tokens
from ._oauth.models import AuthServerMetadata, ClientAuthMethod, ClientRegistration, TokenSet
from ._oauth.responses import error_from_response, json_object, malformed
from ._transport import raise_for_status, url_without_query
from .errors import CoderAPIError, CoderError, OAuthError, RegistrationUnavailableError

__all__ = [
    "Flow",
    "delete_registration",
    "discover",
    "ensure_registration",
    "exchange_code",
    "fetch_user",
    "preregistered_client",
    "read_registration",
    "refresh",
    "register",
    "revoke",
    "revoke_app",
    "update_registration",
]

Flow = Generator[httpx.Request, httpx.Response, Any]
Clock = Callable[[], float]

log = logging.getLogger(__name__)

SESSION_HEADER = "Coder-Session-Token"
_JSON = {"Accept": "application/json"}


def _form(request: _tokens.FormRequest) -> httpx.Request:
    return httpx.Request(request.method, request.url, data=request.form, headers=request.headers)


def _bearer(token: str) -> dict[str, str]:
    return {**_JSON, "Authorization": f"Bearer {token}"}


def discover(deployment_url: str) -> Generator[httpx.Request, httpx.Response, AuthServerMetadata]:
    """RFC 8414 discovery: ``GET <deployment>/.well-known/oauth-authorization-server``, validated.

    Raises:
        OAuthUnavailableError: the provider is off (G3 404, G1 403 experiment message).
        InvalidMetadataError: the document cannot be used (see :func:`_oauth.metadata.parse_metadata`).
    """
    response = yield httpx.Request("GET", _metadata.metadata_url(deployment_url), headers=_JSON)
    return _metadata.parse_metadata(response.status_code, response.content, deployment_url=deployment_url)


def preregistered_client(
    metadata: AuthServerMetadata | None, client_id: str, client_secret: str | None = None
) -> ClientRegistration:
    """A client an administrator created (``CODER_OAUTH_CLIENT_ID``/``_SECRET``).

    With a secret it authenticates with ``client_secret_basic`` (``_post`` if that is all the
    server offers; ``metadata=None``: not known, so basic); without one it is a public client
    (``none``).
    """
    method: ClientAuthMethod = "none"
    if client_secret:
        offered = metadata.token_endpoint_auth_methods_supported if metadata else ()
        basic_ok = "client_secret_basic" in offered or "client_secret_post" not in offered
        method = "client_secret_basic" if basic_ok else "client_secret_post"
    return ClientRegistration(client_id=client_id, client_secret=client_secret or None,
                              token_endpoint_auth_method=method, dynamic=False)


def register(
    metadata: AuthServerMetadata,
    *,
    redirect_uris: tuple[str, ...],
    deployment_url: str,
    client_name: str = _registration.CLIENT_NAME,
    scope: str | None = None,
) -> Generator[httpx.Request, httpx.Response, ClientRegistration]:
    """RFC 7591 dynamic registration at the metadata's absolute ``registration_endpoint``.

    Raises:
        RegistrationUnavailableError: no ``registration_endpoint`` is advertised (DCR off), or the
            endpoint refuses. The message names the fix (a pre-registered client, or a token).
        OAuthError: ``invalid_client_metadata`` and other RFC 7591 errors.
    """
    if not metadata.registration_endpoint:
        raise RegistrationUnavailableError(
            _registration.dcr_off_message(deployment_url, "its metadata has no registration_endpoint"),
            error="registration_unavailable",
        )
    method = _registration.choose_auth_method(metadata)
    body = _registration.registration_body(redirect_uris, auth_method=method, client_name=client_name,
                                           scope=scope)
    response = yield httpx.Request("POST", metadata.registration_endpoint, json=body, headers=_JSON)
    registration = _registration.parse_registration(
        response.status_code, response.content, redirect_uris=redirect_uris, requested=method,
        metadata=metadata, deployment_url=deployment_url, scope=scope,
    )
    log.debug("registered OAuth2 client %s (%s)", registration.client_id,
              registration.token_endpoint_auth_method)
    return registration


def _config_uri(registration: ClientRegistration) -> tuple[str, str] | None:
    if registration.registration_client_uri and registration.registration_access_token:
        return registration.registration_client_uri, registration.registration_access_token
    return None


def read_registration(
    metadata: AuthServerMetadata, registration: ClientRegistration
) -> Generator[httpx.Request, httpx.Response, ClientRegistration | None]:
    """RFC 7592 read. Returns the server's view, ``registration`` itself when 7592 is not offered
    for it, or ``None`` when the server no longer knows the client."""
    where = _config_uri(registration)
    if where is None:
        return registration
    response = yield httpx.Request("GET", where[0], headers=_bearer(where[1]))
    return _registration.parse_client_configuration(
        response.status_code, response.content, previous=registration, metadata=metadata)


def update_registration(
    metadata: AuthServerMetadata,
    registration: ClientRegistration,
    redirect_uris: tuple[str, ...],
    *,
    client_name: str = _registration.CLIENT_NAME,
    scope: str | None = None,
) -> Generator[httpx.Request, httpx.Response, ClientRegistration | None]:
    """RFC 7592 update (``PUT``) replacing the redirect URIs (and, with ``scope``, the allowlist).

    Returns:
        The updated registration, or ``None`` when the client is gone (register again).

    Raises:
        OAuthError: the server refused the update (e.g. ``invalid_client_metadata``), or the
            registration has no RFC 7592 endpoint.
    """
    where = _config_uri(registration)
    if where is None:
        raise OAuthError("This client registration cannot be updated (no RFC 7592 endpoint).",
                         error="unsupported")
    body = _registration.registration_body(redirect_uris, auth_method=registration.token_endpoint_auth_method,
                                           client_id=registration.client_id, client_name=client_name,
                                           scope=scope)
    response = yield httpx.Request("PUT", where[0], json=body, headers=_bearer(where[1]))
    return _registration.parse_client_configuration(
        response.status_code, response.content, previous=registration, metadata=metadata, scope=scope)


def delete_registration(registration: ClientRegistration) -> Generator[httpx.Request, httpx.Response, bool]:
    """RFC 7592 delete. True if deleted (204/200) or already gone (401/404); False if not offered.

    Raises:
        OAuthError: any other answer.
    """
    where = _config_uri(registration)
    if where is None:
        return False
    response = yield httpx.Request("DELETE", where[0], headers=_bearer(where[1]))
    if response.status_code in (200, 204, 401, 404):
        return True
    raise error_from_response(response.status_code, response.content,
                              doing="Deleting the OAuth2 client registration",
                              hint="Delete it in Coder's dashboard if it matters.")


def ensure_registration(
    metadata: AuthServerMetadata,
    cached: ClientRegistration | None,
    *,
    redirect_uri: str,
    deployment_url: str,
    client_name: str = _registration.CLIENT_NAME,
    scope: str | None = None,
) -> Generator[httpx.Request, httpx.Response, ClientRegistration]:
    """A registration usable with ``redirect_uri`` and the allowlist ``scope``: the cached one
    when the server still knows it, updated (RFC 7592 ``PUT``) when the redirect URI or the
    allowlist changed, registered anew otherwise.

    The read (RFC 7592 ``GET``) is the one request a repeat login sends before the consent page:
    it proves the client still exists, so the page does not fail with an unknown client. A
    pre-registered client (``dynamic=False``) is returned as is: its redirect URIs and allowlist
    are the administrator's business.
    """
    if cached is not None and not cached.dynamic:
        return cached
    if cached is not None and _config_uri(cached) is not None:
        current = yield from read_registration(metadata, cached)
        if current is not None and _fits(current, redirect_uri, scope):
            return current
        if current is not None:
            try:
                updated = yield from update_registration(
                    metadata, current, _registration.with_redirect_uri(current, redirect_uri),
                    client_name=client_name, scope=scope)
            except OAuthError as exc:
                log.debug("updating the client registration failed (%s); registering anew", exc.error)
                updated = None
            if updated is not None and _fits(updated, redirect_uri, scope):
                return updated
    elif cached is not None and _fits(cached, redirect_uri, scope):
        return cached
    return (yield from register(metadata, redirect_uris=(redirect_uri,), deployment_url=deployment_url,
                                client_name=client_name, scope=scope))


def _fits(registration: ClientRegistration, redirect_uri: str, scope: str | None) -> bool:
    """The registration names ``redirect_uri`` and carries exactly the allowlist ``scope``
    (compared as canonical names; no ``scope`` wanted: any allowlist)."""
    return _registration.redirect_registered(registration, redirect_uri) and (
        not scope or set(_scopes.parse(registration.scope)) == set(_scopes.parse(scope)))


def exchange_code(
    metadata: AuthServerMetadata,
    registration: ClientRegistration,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    clock: Clock = time.time,
) -> Generator[httpx.Request, httpx.Response, TokenSet]:
    """Exchange an authorization code for tokens (RFC 6749 §4.1.3 with the PKCE verifier).

    Raises:
        InvalidGrantError: the code is invalid, expired or used, or the verifier is wrong.
        InvalidClientError: the client credentials were refused.
        OAuthError: other §5.2 errors and server failures.
        InvalidMetadataError: an unusable success body.
    """
    request = _tokens.code_request(metadata, registration, code=code, redirect_uri=redirect_uri,
                                   code_verifier=code_verifier)
    response = yield _form(request)
    return _tokens.parse_token_response(response.status_code, response.content, now=clock(),
                                        client_id=registration.client_id,
                                        doing="Exchanging the authorization code")


def refresh(
    metadata: AuthServerMetadata,
    registration: ClientRegistration,
    tokens: TokenSet,
    *,
    clock: Clock = time.time,
) -> Generator[httpx.Request, httpx.Response, TokenSet]:
    """Refresh (RFC 6749 §6). A rotating server returns a new refresh token; otherwise the old
    one is kept.

    Raises:
        InvalidGrantError: the refresh token is invalid, expired or was already rotated.
        InvalidClientError, OAuthError, InvalidMetadataError: as for :func:`exchange_code`.
        ValueError: ``tokens`` has no refresh token.
    """
    if not tokens.refresh_token:
        raise ValueError("these credentials cannot be refreshed (no refresh token)")
    request = _tokens.refresh_request(metadata, registration, refresh_token=tokens.refresh_token)
    response = yield _form(request)
    new = _tokens.parse_token_response(response.status_code, response.content, now=clock(),
                                       client_id=registration.client_id,
                                       doing="Refreshing the Coder session",
                                       previous_refresh_token=tokens.refresh_token)
    # A refresh without ``scope`` keeps the grant (RFC 6749 §6): so does our record of it.
    return dataclasses.replace(new, scope=" ".join(_scopes.granted_scope(new.scope, tokens.scope or ())))


def revoke(
    metadata: AuthServerMetadata,
    registration: ClientRegistration,
    token: str,
    *,
    token_type_hint: str = "refresh_token",  # noqa: S107
) -> Generator[httpx.Request, httpx.Response, None]:
    """RFC 7009 revocation at the advertised ``revocation_endpoint``.

    Raises:
        OAuthError: the server refused (e.g. ``invalid_client``); ValueError: no endpoint.
    """
    request = _tokens.revocation_request(metadata, registration, token=token, token_type_hint=token_type_hint)
    response = yield _form(request)
    _tokens.parse_revocation(response.status_code, response.content)


def _api_error(response: httpx.Response, doing: str) -> CoderError:
    """The error of a Coder API answer that is not the expected success: the REST client's one
    mapping (:func:`coder_jupyter._transport.raise_for_status`) for 4xx/5xx, else a plain
    :class:`CoderAPIError` for an unexpected success or redirect."""
    try:
        raise_for_status(response)
    except CoderError as exc:
        return exc
    status = response.status_code
    return CoderAPIError(f"{doing} failed: unexpected HTTP {status}.", status=status,
                         url=url_without_query(response.request.url))


def revoke_app(
    deployment_url: str, client_id: str, access_token: str
) -> Generator[httpx.Request, httpx.Response, None]:
    """Coder's own revocation: ``DELETE /oauth2/tokens?client_id=`` with the user's token ends
    every session of this user with this app (used when no RFC 7009 endpoint is advertised).

    Raises:
        CoderAPIError: the server refused (401 → :class:`AuthenticationError`).
    """
    url = deployment_url.rstrip("/") + "/oauth2/tokens"
    response = yield httpx.Request("DELETE", url, params={"client_id": client_id},
                                   headers={**_JSON, SESSION_HEADER: access_token})
    if response.status_code not in (200, 204):
        raise _api_error(response, "Revoking the app's tokens on Coder")


def fetch_user(
    deployment_url: str, access_token: str
) -> Generator[httpx.Request, httpx.Response, dict[str, Any]]:
    """``GET /api/v2/users/me``: the account the token belongs to (``username``, ``id``, …).

    Raises:
        AuthenticationError: the token was refused; CoderAPIError: another error;
        InvalidMetadataError: not a JSON object.
    """
    url = deployment_url.rstrip("/") + "/api/v2/users/me"
    response = yield httpx.Request("GET", url, headers={**_JSON, SESSION_HEADER: access_token})
    if response.status_code != 200:
        raise _api_error(response, "Reading your Coder account")
    data = json_object(response.content)
    if data is None or not isinstance(data.get("username"), str):
        raise malformed("Reading your Coder account", "has no username")
    return data
