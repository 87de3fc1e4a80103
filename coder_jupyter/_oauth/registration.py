"""Client registration: RFC 7591 dynamic registration and RFC 7592 client configuration.

Pure request bodies and response parsing. The policy lives here too, because it is protocol:

* :func:`choose_auth_method` — a public client (``none``, PKCE only) when the server offers it,
  as RFC 8252 §8.5 advises for native apps; otherwise ``client_secret_basic``, then ``_post``.
* :func:`parse_registration` — what the server *answered* wins over what we asked: a secret is
  kept when one is returned, even if we asked for ``none`` (Coder G1 made every client
  confidential), and such a client then authenticates with its secret.
* :func:`redirect_registered` — whether a registration already covers a redirect URI: an exact
  string match. RFC 8252 §7.3 servers (Coder G2+) ignore loopback ports, but G1 compared the
  port too, so a new port is added with an RFC 7592 update; the loopback listener prefers the
  port it registered before, so this rarely happens.
"""

from __future__ import annotations

from typing import Any, get_args

from ..errors import RegistrationUnavailableError
from .metadata import check_no_downgrade
from .models import AuthServerMetadata, ClientAuthMethod, ClientRegistration
from .responses import error_from_response, json_object, malformed

__all__ = [
    "CLIENT_NAME",
    "DCR_HINT",
    "MAX_REDIRECT_URIS",
    "choose_auth_method",
    "parse_client_configuration",
    "parse_registration",
    "redirect_registered",
    "registration_body",
    "with_redirect_uri",
]

#: Shown on Coder's consent page ("<name> would like to access your account").
CLIENT_NAME = "Coder for Jupyter"

#: Coder accepts at most 32 redirect URIs per client.
MAX_REDIRECT_URIS = 32

DCR_HINT = (
    "Ask an administrator to enable dynamic client registration (`coder oauth2-provider dcr enable`) "
    "or to create an OAuth2 app for you, then set CODER_OAUTH_CLIENT_ID (and CODER_OAUTH_CLIENT_SECRET "
    "for a confidential app) or c.CoderConfig.oauth_client_id; or log in with an API token "
    "(CODER_SESSION_TOKEN)."
)

_METHODS: tuple[str, ...] = get_args(ClientAuthMethod)


def choose_auth_method(metadata: AuthServerMetadata) -> ClientAuthMethod:
    """The token-endpoint auth method to register with (see the module docstring)."""
    offered = metadata.token_endpoint_auth_methods_supported
    for method in ("none", "client_secret_basic", "client_secret_post"):
        if method in offered:
            return method
    return "client_secret_basic"


def registration_body(
    redirect_uris: tuple[str, ...] | list[str],
    *,
    auth_method: ClientAuthMethod,
    client_name: str = CLIENT_NAME,
    client_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body of an RFC 7591 registration (or, with ``client_id``, an RFC 7592 update).

    Only fields every generation of Coder documents are sent.
    """
    body: dict[str, Any] = {
        "redirect_uris": list(redirect_uris),
        "client_name": client_name,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    }
    if client_id is not None:
        body["client_id"] = client_id  # RFC 7592 §2.2: the update repeats the client_id
    return body


def redirect_registered(registration: ClientRegistration, redirect_uri: str) -> bool:
    """True if ``redirect_uri`` is exactly one of the registration's redirect URIs."""
    return redirect_uri in registration.redirect_uris


def with_redirect_uri(registration: ClientRegistration, redirect_uri: str) -> tuple[str, ...]:
    """The registration's redirect URIs plus ``redirect_uri`` (newest last, oldest dropped at 32)."""
    uris = [u for u in registration.redirect_uris if u != redirect_uri] + [redirect_uri]
    return tuple(uris[-MAX_REDIRECT_URIS:])


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _registration_from(
    data: dict[str, Any], *, fallback_uris: tuple[str, ...], requested: ClientAuthMethod,
    metadata: AuthServerMetadata, previous: ClientRegistration | None,
) -> ClientRegistration:
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise malformed("Registering the OAuth2 client", "has no client_id")
    secret = data.get("client_secret") or (previous.client_secret if previous else None)
    if secret is not None and not isinstance(secret, str):
        raise malformed("Registering the OAuth2 client", "has a malformed client_secret")
    method = data.get("token_endpoint_auth_method", requested)
    if method not in _METHODS:
        method = requested
    if secret and method == "none":
        # Asked to be public, made confidential anyway (Coder G1): authenticate with the secret.
        offered = metadata.token_endpoint_auth_methods_supported
        method = "client_secret_post" if "client_secret_basic" not in offered and \
            "client_secret_post" in offered else "client_secret_basic"
    uris = data.get("redirect_uris")
    redirect_uris = tuple(u for u in uris if isinstance(u, str)) if isinstance(uris, list) else fallback_uris
    rat = data.get("registration_access_token")
    # Keep the token we have: some Coder versions echoed the stored *hash* on PUT (RFC 7592 §2.2
    # lets servers rotate it, which Coder never does).
    if previous is not None and previous.registration_access_token:
        rat = previous.registration_access_token
    rcu = data.get("registration_client_uri") or (previous.registration_client_uri if previous else None)
    if isinstance(rcu, str) and rcu:
        # RFC 7592 requests carry the registration access token (and a PUT the client secret).
        check_no_downgrade(metadata.issuer, "registration_client_uri", rcu,
                           doing="Registering the OAuth2 client")
    return ClientRegistration(
        client_id=client_id,
        client_secret=secret or None,
        token_endpoint_auth_method=method,
        redirect_uris=redirect_uris,
        registration_access_token=rat if isinstance(rat, str) and rat else None,
        registration_client_uri=rcu if isinstance(rcu, str) and rcu else None,
        client_id_issued_at=_int_or_none(data.get("client_id_issued_at")),
        client_secret_expires_at=_int_or_none(data.get("client_secret_expires_at")),
        dynamic=True,
    )


def parse_registration(
    status: int,
    body: bytes,
    *,
    redirect_uris: tuple[str, ...],
    requested: ClientAuthMethod,
    metadata: AuthServerMetadata,
    deployment_url: str,
) -> ClientRegistration:
    """Parse the answer to an RFC 7591 registration request (201, or 200 from lenient servers).

    Raises:
        RegistrationUnavailableError: 401/403/404/405 without an OAuth error body (registration
            closed). Message names the fix: ``DCR_HINT``.
        OAuthError: an RFC 7591 §3.2.2 error, e.g. ``invalid_client_metadata``.
        InvalidMetadataError: a success status with an unusable body.
    """
    data = json_object(body)
    if status in (200, 201):
        if data is None:
            raise malformed("Registering the OAuth2 client", "is not a JSON object")
        return _registration_from(data, fallback_uris=redirect_uris, requested=requested,
                                  metadata=metadata, previous=None)
    if status in (401, 403, 404, 405) and not (data or {}).get("error"):
        raise RegistrationUnavailableError(
            f"{deployment_url} does not allow dynamic client registration (HTTP {status}). {DCR_HINT}",
            error="registration_unavailable",
            status=status,
        )
    raise error_from_response(
        status, body, doing="Registering the OAuth2 client",
        hint="Check the redirect URI; if it looks right, tell your Coder administrator.",
    )


def parse_client_configuration(
    status: int, body: bytes, *, previous: ClientRegistration, metadata: AuthServerMetadata
) -> ClientRegistration | None:
    """Parse an RFC 7592 read (GET) or update (PUT) answer.

    Returns:
        The updated registration (secrets and the registration access token carried over from
        ``previous`` when the answer leaves them out, as Coder does), or ``None`` when the server
        no longer knows the client (401/403/404): register again.

    Raises:
        OAuthError: any other error (e.g. ``invalid_client_metadata`` for a rejected update).
    """
    if status in (401, 403, 404):
        return None
    data = json_object(body)
    if status == 200 and data is not None:
        return _registration_from(data, fallback_uris=previous.redirect_uris,
                                  requested=previous.token_endpoint_auth_method,
                                  metadata=metadata, previous=previous)
    if status == 200:
        raise malformed("Reading the OAuth2 client registration", "is not a JSON object")
    raise error_from_response(status, body, doing="Updating the OAuth2 client registration",
                              hint="The client will be registered again.")
