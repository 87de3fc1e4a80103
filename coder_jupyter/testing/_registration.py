"""Dynamic client registration (RFC 7591) and client configuration (RFC 7592).

Validation follows ``codersdk/oauth2_validation.go`` as summarised in CODER_BEHAVIOR.md §3:
every failure is ``400 {"error":"invalid_client_metadata","error_description":...}``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlsplit

from ._http import INVALID, BaseHandler, locked
from ._scopes import SCOPE_CATALOG, ScopeRejected, check_list_size, filter_allowlist
from ._state import (
    AppSecret,
    OAuthApp,
    generate_prefixed_secret,
    hash_secret,
    is_uuid,
    new_uuid,
    secret_matches,
)

_DANGEROUS = {"javascript", "data", "file", "ftp"}
_PUBLIC_FORBIDDEN = {"mailto", "tel", "sms"}
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
_URI_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri", "jwks_uri")
_ECHO_FIELDS = (
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "jwks_uri",
    "jwks",
    "software_id",
    "software_version",
    "contacts",
)


class MetadataError(ValueError):
    """A registration request that Coder would refuse with ``invalid_client_metadata``."""


def validate_redirect_uri(uri: str, *, public: bool) -> None:
    """Raise :class:`MetadataError` if ``uri`` is not an acceptable redirect URI."""
    if len(uri.encode()) > 2048:
        raise MetadataError("redirect URI exceeds 2048 bytes")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme:
        raise MetadataError("redirect URI must have a scheme")
    if scheme in _DANGEROUS:
        raise MetadataError(f"uses the dangerous scheme {scheme}")
    if scheme == "urn":
        if uri != "urn:ietf:wg:oauth:2.0:oob":
            raise MetadataError("only the urn:ietf:wg:oauth:2.0:oob URN is supported")
        return
    if "#" in uri:
        raise MetadataError("redirect URI must not contain a fragment")
    if scheme in ("http", "https"):
        host = (parts.hostname or "").lower()
        if not host:
            raise MetadataError("redirect URI must have a host")
        if scheme == "http":
            loopback = host in _LOOPBACK or (not public and host.endswith(".localhost"))
            if not loopback:
                raise MetadataError("must use https scheme for non-localhost URLs")
        return
    if public and scheme in _PUBLIC_FORBIDDEN:
        raise MetadataError(f"scheme {scheme} is not allowed for public clients")
    if not parts.netloc and not parts.path.startswith("/"):
        raise MetadataError("custom scheme redirect URIs must have a host or a path")


def generate_client_name(request: dict[str, Any]) -> str:
    name = request.get("client_name") or ""
    if not name:
        source = request.get("client_uri") or (request.get("redirect_uris") or [""])[0]
        host = urlsplit(source).hostname if source else None
        name = f"Client ({host})" if host else "Dynamically Registered Client"
    if len(name) > 64:
        name = name[:55] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return str(name)


def apply_defaults_and_validate(body: Any, *, generation: str) -> dict[str, Any]:
    """Return the normalised registration request, or raise :class:`MetadataError`."""
    if not isinstance(body, dict):
        raise MetadataError("request body must be a JSON object")
    req = dict(body)
    req.setdefault("grant_types", None)
    req["grant_types"] = req["grant_types"] or ["authorization_code", "refresh_token"]
    req["response_types"] = req.get("response_types") or ["code"]
    req["token_endpoint_auth_method"] = req.get("token_endpoint_auth_method") or "client_secret_basic"
    method = req["token_endpoint_auth_method"]
    if method not in _AUTH_METHODS:
        raise MetadataError(f"invalid token_endpoint_auth_method: unsupported method {method!r}")
    public = method == "none" and generation in ("g3", "g4")
    uris = req.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise MetadataError("invalid redirect_uris: at least one redirect URI is required")
    if len(uris) > 32:
        raise MetadataError("invalid redirect_uris: maximum of 32 redirect URIs allowed")
    for index, uri in enumerate(uris):
        if not isinstance(uri, str):
            raise MetadataError(f"invalid redirect_uris: redirect URI at index {index}: must be a string")
        try:
            validate_redirect_uri(uri, public=public)
        except MetadataError as exc:
            raise MetadataError(f"invalid redirect_uris: redirect URI at index {index}: {exc}") from None
    grants = req["grant_types"]
    if not isinstance(grants, list) or any(g not in ("authorization_code", "refresh_token") for g in grants):
        raise MetadataError("invalid grant_types: only authorization_code and refresh_token are supported")
    if "authorization_code" not in grants:
        raise MetadataError("invalid grant_types: authorization_code grant type is required")
    if req["response_types"] != ["code"] and set(req["response_types"]) != {"code"}:
        raise MetadataError("invalid response_types: only code is supported")
    for name in _URI_FIELDS:
        value = req.get(name)
        if value:
            parts = urlsplit(str(value))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise MetadataError(f"invalid {name}: must be an absolute http(s) URL")
    scope = req.get("scope") or ""
    if scope and generation == "g4":
        try:  # the allowlist keeps only offered names, canonical and deduplicated
            check_list_size(str(scope))
            req["scope"] = filter_allowlist(str(scope))
        except ScopeRejected as exc:
            raise MetadataError(f"invalid scope: {exc}") from None
    elif scope and generation == "g3":
        names = str(scope).split()
        if len(str(scope).encode()) > 4096 or len(names) > 100:
            raise MetadataError("invalid scope: too long")
        unknown = [n for n in names if n not in SCOPE_CATALOG]
        if unknown:
            raise MetadataError(f"invalid scope: unknown scope {unknown[0]!r}")
    req["client_name"] = generate_client_name(req)
    return req


def client_document(base_url: str, app: OAuthApp) -> dict[str, Any]:
    """The RFC 7591/7592 client description (no secret, no registration token)."""
    meta = app.metadata
    doc: dict[str, Any] = {
        "client_id": app.id,
        "client_id_issued_at": int(app.created_at),
        "client_name": app.name,
        "redirect_uris": list(app.redirect_uris),
        "grant_types": meta.get("grant_types"),
        "response_types": meta.get("response_types"),
        "token_endpoint_auth_method": app.token_endpoint_auth_method,
        "registration_client_uri": f"{base_url}/oauth2/clients/{app.id}",
    }
    if app.scope:
        doc["scope"] = app.scope
    for name in _ECHO_FIELDS:
        if meta.get(name):
            doc[name] = meta[name]
    return doc


class _RegistrationBase(BaseHandler):
    gate = "oauth2"
    rate_bucket = "oauth2"

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")

    def options(self, *args: str) -> None:
        self.no_content()

    def metadata_error(self, message: str) -> None:
        self.oauth_error(400, "invalid_client_metadata", message)

    def read_client_metadata(self) -> dict[str, Any] | None:
        """The request's client metadata with Coder's defaults applied, or ``None`` once the
        error answer (bad JSON, or ``invalid_client_metadata``) has been written."""
        body = self.read_json()
        if body is INVALID:
            return None
        try:
            return apply_defaults_and_validate(body, generation=self.generation)
        except MetadataError as exc:
            self.metadata_error(str(exc))
            return None

    def store(self, app: OAuthApp, req: dict[str, Any]) -> None:
        app.name = req["client_name"]
        app.redirect_uris = list(req["redirect_uris"])
        app.callback_url = app.redirect_uris[0]
        app.icon = str(req.get("logo_uri") or "")
        app.scope = str(req.get("scope") or "")
        app.token_endpoint_auth_method = req["token_endpoint_auth_method"]
        app.metadata = req


class RegisterHandler(_RegistrationBase):
    """``POST /oauth2/register``: RFC 7591 dynamic client registration."""

    route = "/oauth2/register"

    @locked
    def post(self) -> None:
        if self.gen >= 3 and not self.settings_.dcr_enabled:
            # The exact sentence is unconfirmed; Coder's test checks only for "disabled".
            self.oauth_error(
                403,
                "invalid_request",
                "Dynamic client registration is disabled on this deployment; "
                "ask an administrator to enable it or to register an application.",
            )
            return
        req = self.read_client_metadata()
        if req is None:
            return
        public = self.gen >= 3 and req["token_endpoint_auth_method"] == "none"  # noqa: S105
        now = self.state.clock.now()
        registration_token = secrets.token_urlsafe(32)
        app = OAuthApp(
            id=new_uuid(),
            name="",
            icon="",
            callback_url="",
            redirect_uris=[],
            client_type="public" if public else "confidential",
            dynamically_registered=True,
            created_at=now,
            registration_token_hash=hash_secret(registration_token),
        )
        self.store(app, req)
        doc = client_document(self.ctx.base_url, app)
        if not public:
            full, prefix, secret = generate_prefixed_secret()
            sec = AppSecret(
                id=new_uuid(), prefix=prefix, secret_hash=hash_secret(secret), created_at=now, tail=full[-6:]
            )
            app.secrets[sec.id] = sec
            doc["client_secret"] = full
        doc["registration_access_token"] = registration_token
        self.state.apps[app.id] = app
        self.send_json(201, doc)


class ClientConfigurationHandler(_RegistrationBase):
    """``GET/PUT/DELETE /oauth2/clients/{client_id}``: RFC 7592, auth by registration access token."""

    route = "/oauth2/clients/{client_id}"

    def _authorized_app(self, client_id: str) -> OAuthApp | None:
        if not is_uuid(client_id):
            self.oauth_error(400, "invalid_client_id", "Invalid client ID format")
            return None
        auth = self.request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not token:
            self.oauth_error(401, "invalid_token", "Missing or invalid registration access token")
            return None
        app = self.state.apps.get(client_id)
        if app is None:
            self.oauth_error(401, "invalid_token", "Client not found")
            return None
        if not app.dynamically_registered:
            self.oauth_error(403, "invalid_token", "Client was not dynamically registered")
            return None
        if not secret_matches(token, app.registration_token_hash):
            self.oauth_error(401, "invalid_token", "Invalid registration access token")
            return None
        return app

    @locked
    def get(self, client_id: str) -> None:
        app = self._authorized_app(client_id)
        if app is not None:
            self.send_json(200, client_document(self.ctx.base_url, app))

    @locked
    def put(self, client_id: str) -> None:
        app = self._authorized_app(client_id)
        if app is None:
            return
        req = self.read_client_metadata()
        if req is None:
            return
        if self.gen >= 3:
            wants_public = req["token_endpoint_auth_method"] == "none"  # noqa: S105
            if wants_public != (app.client_type == "public"):
                self.metadata_error(
                    "cannot change token_endpoint_auth_method between public and confidential"
                )
                return
        self.store(app, req)
        self.send_json(200, client_document(self.ctx.base_url, app))

    @locked
    def delete(self, client_id: str) -> None:
        app = self._authorized_app(client_id)
        if app is not None:
            self.state.delete_app(app.id)
            self.no_content()
