"""The OAuth 2.1 provider: discovery, ``/oauth2/authorize``, ``/oauth2/tokens``, ``/oauth2/revoke``.

Behaviour per generation (CODER_BEHAVIOR.md §4-§6, §10, §12):

* **G4** (default): G3 plus scope negotiation by coverage (:mod:`._scopes`), the granted
  ``scope`` in token responses and on the minted key, refresh narrowing, the allowlist re-checked
  at redemption, no CSRF check on the consent POST, repeated token parameters refused, a bounded
  form body (413), and confidential clients authenticated before revocation.
* **G3**: unknown authorize parameters ignored, duplicates refused, parameter errors
  redirected to the callback, PKCE S256 required, public clients, secret checked on refresh,
  CSRF token enforced on the consent POST, ``/oauth2`` rate limited.
* **G2**: like G3 for PKCE/scope/response_type redirects, but unknown parameters and other
  bad parameters give an HTML 400 page (GET) or a JSON 400 (POST); no refresh secret check.
* **G1**: PKCE optional, scope ignored, Cancel without ``state``, every bad parameter is a
  page/JSON error, no CSRF check, DCR clients always confidential, no refresh secret check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._http import SIGNED_OUT, BaseHandler, locked
from ._pages import PAGE_HEADERS, consent_page, error_page
from ._scopes import SCOPE_CATALOG, ScopeRejected, narrow_on_refresh, negotiate, stale_against
from ._state import (
    AppSecret,
    AuthCode,
    OAuthApp,
    RefreshToken,
    User,
    generate_prefixed_secret,
    hash_secret,
    is_uuid,
    parse_prefixed_secret,
    rfc3339,
    secret_matches,
)

_PKCE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_KNOWN_AUTHORIZE = {
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
}
_KNOWN_TOKEN = {
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "resource",
    "scope",
}
_BLOCKED_CALLBACK_SCHEMES = {"javascript", "data", "file", "ftp"}
_REQUIRED_PARAM = 'Query param "{}" is required and cannot be empty'
_DENIED = "The resource owner or authorization server denied the request"
_CSRF_FAILED = (
    "Something is wrong with your CSRF token. Please refresh the page. "
    "If this error persists, try clearing your cookies."
)


# --------------------------------------------------------------------------- helpers


def redirect_uri_matches(presented: str, registered: list[str], generation: str) -> bool:
    """G2/G3: exact string match, except loopback ``http`` URIs where the port is ignored.

    G1 (unconfirmed in the reference): same scheme and host, path prefix.
    """
    p = urlsplit(presented)
    for reg in registered:
        if presented == reg:
            return True
        r = urlsplit(reg)
        if generation == "g1":
            if p.scheme == r.scheme and p.netloc == r.netloc and p.path.startswith(r.path):
                return True
            continue
        if (
            r.scheme == "http"
            and p.scheme == "http"
            and (r.hostname or "") in _LOOPBACK_HOSTS
            and p.hostname == r.hostname
            and p.path == r.path
            and p.query == r.query
            and not p.fragment
        ):
            return True
    return False


def with_query(url: str, params: dict[str, str]) -> str:
    """Add ``params`` to ``url``, keeping its own query but replacing code/error/state (``withQuery``)."""
    parts = urlsplit(url)
    replaced = {"code", "error", "error_description", "state"}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in replaced]
    query = urlencode(kept + list(params.items()))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def clean_description(text: str) -> str:
    text = "".join(c for c in text if 32 <= ord(c) < 127).replace('"', "'")
    if len(text) > 2048:
        text = text[:2035] + " (truncated)"
    return text


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def csrf_token_for(key: bytes, session_key_id: str) -> str:
    return hmac.new(key, session_key_id.encode(), hashlib.sha256).hexdigest()


def find_app_secret(app: OAuthApp, presented: str) -> AppSecret | None:
    parsed = parse_prefixed_secret(presented)
    if parsed is None:
        return None
    prefix, secret = parsed
    for sec in app.secrets.values():
        if sec.prefix == prefix and secret_matches(secret, sec.secret_hash):
            return sec
    return None


class _OAuthHandler(BaseHandler):
    gate = "oauth2"
    rate_bucket = "oauth2"

    def lookup_app_id(self, client_id: str) -> OAuthApp | None:
        if not client_id:
            self.oauth_error(400, "invalid_request", "Missing client_id parameter")
            return None
        app = self.state.apps.get(client_id) if is_uuid(client_id) else None
        if app is None:
            self.oauth_error(401, "invalid_client", "The client credentials are invalid")
        return app


class _CorsMixin(BaseHandler):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")

    def options(self, *args: str) -> None:
        self.no_content()


# --------------------------------------------------------------------------- discovery


class AuthorizationServerMetadataHandler(_CorsMixin, _OAuthHandler):
    """RFC 8414 metadata, also served for any ``/.well-known/oauth-authorization-server/...`` suffix."""

    route = "/.well-known/oauth-authorization-server"

    @locked
    def get(self, suffix: str | None = None) -> None:
        base = self.ctx.base_url
        settings = self.settings_
        doc: dict[str, object] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/tokens",
            "revocation_endpoint": f"{base}/oauth2/revoke",
        }
        if settings.dcr_enabled or self.gen < 3:
            doc["registration_endpoint"] = f"{base}/oauth2/register"
        methods = ["client_secret_basic", "client_secret_post"]
        if self.gen >= 3:
            methods.append("none")
        doc.update(
            {
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": list(SCOPE_CATALOG),
                "token_endpoint_auth_methods_supported": methods,
            }
        )
        self.send_json(200, doc)


class ProtectedResourceMetadataHandler(_CorsMixin, _OAuthHandler):
    """RFC 9728 protected-resource metadata."""

    route = "/.well-known/oauth-protected-resource"

    @locked
    def get(self, suffix: str | None = None) -> None:
        base = self.ctx.base_url
        self.send_json(
            200,
            {
                "resource": base,
                "authorization_servers": [base],
                "scopes_supported": list(SCOPE_CATALOG),
                "bearer_methods_supported": ["header", "query"],
            },
        )


# --------------------------------------------------------------------------- authorize


class AuthorizeHandler(_OAuthHandler):
    """``GET`` renders the consent page, ``POST`` (the Allow button) issues a code."""

    route = "/oauth2/authorize"

    @locked
    def get(self) -> None:
        self._handle(post=False)

    @locked
    def post(self) -> None:
        self._handle(post=True)

    # -- error outputs

    def _page_error(self, post: bool, status: int, title: str, description: str) -> None:
        if post:
            error = "server_error" if status >= 500 else "invalid_request"
            self.oauth_error(status, error, description)
            return
        self.set_status(status)
        for name, value in PAGE_HEADERS.items():
            self.set_header(name, value)
        self.finish(error_page(status=status, title=title, description=description))

    def _redirect_error(self, redirect: str, state: str, error: str, description: str) -> None:
        params = {"error": error, "error_description": clean_description(description)}
        if state:
            params["state"] = state
        self.redirect(with_query(redirect, params), status=302)

    # -- main flow

    def _params(self, post: bool) -> dict[str, list[str]]:
        params = {k: [v.decode() for v in vs] for k, vs in self.request.query_arguments.items()}
        if post:
            for k, vs in self.request.body_arguments.items():
                if k != "csrf_token" and k not in params:
                    params[k] = [v.decode() for v in vs]
        return params

    def _handle(self, *, post: bool) -> None:
        generation = self.generation
        params = self._params(post)
        client_ids = params.get("client_id", [])
        basic = self.basic_credentials()
        if (self.gen == 3 and len(set(client_ids)) > 1) or (self.gen >= 4 and len(client_ids) > 1):
            self.oauth_error(400, "invalid_request", "client_id: parameter provided more than once")
            return
        client_id = client_ids[0] if client_ids else (basic[0] if basic else "")
        app = self.lookup_app_id(client_id)
        if app is None:
            return
        user, key, _, _ = self._resolve(self.request_token())
        if user is None or key is None:
            login = "/login?" + urlencode({"message": SIGNED_OUT, "redirect": self.request.uri or "/"})
            self.redirect(login, status=303)
            return

        def one(name: str) -> str:
            values = params.get(name)
            return values[0] if values else ""

        registered = app.redirect_uris or [app.callback_url]
        presented = one("redirect_uri")
        if presented:
            if not redirect_uri_matches(presented, registered, generation):
                self._page_error(
                    post,
                    400,
                    "Invalid Query Parameters",
                    "redirect_uri: invalid redirect URI for this client",
                )
                return
            redirect = presented
        else:
            redirect = registered[0]
        if urlsplit(redirect).scheme.lower() in _BLOCKED_CALLBACK_SCHEMES:
            self._page_error(
                post, 500, "Invalid Callback URL", "The application's callback URL is not allowed."
            )
            return
        state = one("state")

        # Problems that were page/JSON errors in G1/G2 and are redirects in G3.
        problems: list[tuple[str, str]] = []
        if generation in ("g1", "g2"):
            excess = sorted(set(params) - _KNOWN_AUTHORIZE)
            problems += [(name, "unknown parameter") for name in excess]
        else:
            if self.settings_.strict_authorize_params:
                excess = sorted(set(params) - _KNOWN_AUTHORIZE)
                problems += [("", f'"{name}" is not a valid query param') for name in excess]
            problems += [(n, "parameter provided more than once") for n, vs in params.items() if len(vs) > 1]
        response_type = one("response_type")
        if not response_type:
            problems.append(("response_type", _REQUIRED_PARAM.format("response_type")))
        challenge = one("code_challenge")
        method = one("code_challenge_method")
        if generation != "g1":
            if not challenge:
                problems.append(("code_challenge", _REQUIRED_PARAM.format("code_challenge")))
            elif not _PKCE_RE.match(challenge):
                problems.append(
                    (
                        "code_challenge",
                        "must be 43 to 128 characters from the unreserved character set [A-Za-z0-9-._~]",
                    )
                )
        resource = one("resource")
        resource_bad = False
        if resource:
            parts = urlsplit(resource)
            # G4 checks only for a scheme and a non-empty fragment ("https://x/#" passes).
            if self.gen >= 4:
                resource_bad = not parts.scheme or bool(parts.fragment)
            else:
                resource_bad = not parts.scheme or not parts.netloc or "#" in resource
            if resource_bad:
                problems.append(("resource", "must be an absolute URI without fragment"))
        if response_type and response_type != "code" and generation == "g1":
            problems.append(("response_type", "unsupported response type"))
        if problems:
            description = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
            if self.gen >= 3:
                only_resource = resource_bad and len(problems) == 1
                self._redirect_error(
                    redirect,
                    state,
                    "invalid_target" if only_resource else "invalid_request",
                    f"Invalid query params: {description}",
                )
            else:
                self._page_error(
                    post, 400, "Invalid Query Parameters", f"Invalid query params: {description}"
                )
            return

        # Problems that redirect back with state since G2.
        if response_type != "code":
            self._redirect_error(
                redirect, state, "unsupported_response_type", "Only response_type=code is supported"
            )
            return
        if method and method != "S256":
            if generation == "g1":
                if post and challenge:
                    self.oauth_error(
                        400, "invalid_request", "Invalid code_challenge_method: only S256 is supported"
                    )
                    return
            else:
                description = f"code_challenge_method '{method}' is not supported; use 'S256'"
                self._redirect_error(redirect, state, "invalid_request", description)
                return
        granted = ["coder:all"]
        if self.gen >= 4:
            try:
                granted = negotiate(app.scope, one("scope")).split()
            except ScopeRejected as exc:
                self._redirect_error(redirect, state, "invalid_scope", str(exc))
                return
        elif generation != "g1":
            requested = one("scope").split()
            allow = app.scope.split()
            if requested:
                bad = [s for s in requested if s not in SCOPE_CATALOG or (allow and s not in allow)]
                if bad:
                    self._redirect_error(
                        redirect, state, "invalid_scope", f"scope: {', '.join(bad)} not allowed"
                    )
                    return
                granted = requested
            elif allow:
                granted = allow

        csrf = csrf_token_for(self.state.csrf_key, key.id)
        if not post:
            self._consent(app, user, granted, redirect, state, csrf)
            return
        # G2/G3 as first modelled; G4 (and, per the corrected reference, real G3) exempts
        # /oauth2 from CSRF: the session alone authorizes the POST.
        csrf_checked = generation in ("g2", "g3")
        if csrf_checked and not hmac.compare_digest(self.get_body_argument("csrf_token", ""), csrf):
            self.send_response(400, _CSRF_FAILED)
            return
        self._issue_code(app, user, redirect, state, challenge, method, presented, resource, granted)

    def _consent(
        self, app: OAuthApp, user: User, scopes: list[str], redirect: str, state: str, csrf: str
    ) -> None:
        if self.generation == "g1":
            cancel = with_query(redirect, {"error": "access_denied"})
        else:
            params = {"error": "access_denied", "error_description": _DENIED}
            if state:
                params["state"] = state
            cancel = with_query(redirect, params)
        if self.settings_.cancel_link_bug and urlsplit(redirect).scheme.lower() not in (
            "http",
            "https",
            "mailto",
        ):
            cancel = "#ZgotmplZ"  # html/template's filtered-URL marker (coder/coder#24058)
        for name, value in PAGE_HEADERS.items():
            self.set_header(name, value)
        self.finish(
            consent_page(
                app_name=app.name,
                app_icon=app.icon,
                username=user.username,
                scopes=scopes,
                action=None if self.gen >= 4 else (self.request.uri or "/oauth2/authorize"),
                csrf_token=csrf,
                cancel_href=cancel,
            )
        )

    def _issue_code(
        self,
        app: OAuthApp,
        user: User,
        redirect: str,
        state: str,
        challenge: str,
        method: str,
        presented_redirect: str,
        resource: str,
        scopes: list[str],
    ) -> None:
        codes = self.state.codes
        for prefix in [p for p, c in codes.items() if c.app_id == app.id and c.user_id == user.id]:
            del codes[prefix]
        full, prefix, secret = generate_prefixed_secret()
        codes[prefix] = AuthCode(
            prefix=prefix,
            secret_hash=hash_secret(secret),
            app_id=app.id,
            user_id=user.id,
            expires_at=self.state.clock.now() + self.settings_.code_ttl,
            code_challenge=challenge,
            code_challenge_method=(method or "S256") if challenge else "",
            redirect_uri=presented_redirect,
            resource=resource,
            scope=" ".join(scopes),
        )
        params = {"code": full}
        if state:
            params["state"] = state
        self.redirect(with_query(redirect, params), status=302)


# --------------------------------------------------------------------------- token endpoint


class _ClientAuthHandler(_CorsMixin, _OAuthHandler):
    """Shared client authentication for the token and revocation endpoints."""

    def param(self, name: str) -> str:
        if self.gen >= 3:
            return self.get_body_argument(name, "") or ""
        return self.get_argument(name, "") or ""

    def refuse_query_secret(self) -> bool:
        """G3+: a ``client_secret`` in the URL query is refused (an empty one is ignored,
        except in G4 when the body also carries one: the same parameter sent twice)."""
        if self.gen < 3:
            return False
        query = self.request.query_arguments.get("client_secret")
        if query is None:
            return False
        if any(query) or (self.gen >= 4 and "client_secret" in self.request.body_arguments):
            self.oauth_error(400, "invalid_request", "client_secret must not be sent in the URL query")
            return True
        return False

    def client(self) -> tuple[OAuthApp, str] | None:
        """Resolve ``(app, presented_secret)`` from Basic auth and/or form fields."""
        basic = self.basic_credentials()
        form_id = self.param("client_id")
        form_secret = self.param("client_secret")
        if basic and ((form_id and form_id != basic[0]) or (form_secret and form_secret != basic[1])):
            self.oauth_error(
                400,
                "invalid_request",
                "Conflicting client credentials between Authorization header and request body",
            )
            return None
        query_id = self.get_query_argument("client_id", "") or ""
        client_id = query_id or form_id or (basic[0] if basic else "")
        app = self.lookup_app_id(client_id)
        if app is None:
            return None
        return app, form_secret or (basic[1] if basic else "")

    def check_secret(self, app: OAuthApp, presented: str, *, missing_is_400: bool) -> AppSecret | bool | None:
        """Return the matching secret, or write the error and return False."""
        if not presented:
            if missing_is_400:
                self.oauth_error(400, "invalid_request", "Missing required parameter: client_secret")
            else:
                self.oauth_error(401, "invalid_client", "The client credentials are invalid")
            return False
        sec = find_app_secret(app, presented)
        if sec is None:
            self.oauth_error(401, "invalid_client", "The client credentials are invalid")
            return False
        sec.last_used_at = self.state.clock.now()
        return sec


class TokensHandler(_ClientAuthHandler):
    """``POST /oauth2/tokens`` (code exchange and refresh) and ``DELETE /oauth2/tokens?client_id=``."""

    route = "/oauth2/tokens"

    body_limited = True

    @locked
    def post(self) -> None:
        generation = self.generation
        if self.refuse_query_secret():
            return
        if self.gen >= 4:
            repeated = sorted(k for k, vs in self.request.body_arguments.items() if len(vs) > 1)
            if "grant_type" in repeated:
                self.oauth_error(400, "unsupported_grant_type", "The grant type is missing or unsupported")
                return
            repeated = [k for k in repeated if k in _KNOWN_TOKEN]
            if repeated:
                self.oauth_error(400, "invalid_request", f"{repeated[0]}: parameter provided more than once")
                return
        if generation == "g1":
            names = set(self.request.query_arguments) | set(self.request.body_arguments)
            if names - _KNOWN_TOKEN:
                self.oauth_error(
                    400,
                    "invalid_request",
                    "The request is missing required parameters or is otherwise malformed",
                )
                return
        resolved = self.client()
        if resolved is None:
            return
        app, presented = resolved
        grant = self.param("grant_type")
        if grant == "authorization_code":
            self._code_grant(app, presented)
        elif grant == "refresh_token":
            self._refresh_grant(app, presented)
        else:
            self.oauth_error(400, "unsupported_grant_type", "The grant type is missing or unsupported")

    @locked
    def delete(self) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        user, _ = auth
        app = self.lookup_app_id(self.get_query_argument("client_id", "") or "")
        if app is None:
            return
        self.state.delete_app_tokens(app.id, user.id)
        self.no_content()

    def _code_grant(self, app: OAuthApp, presented: str) -> None:
        sec: AppSecret | None = None
        if app.client_type == "confidential" or self.gen < 3:
            checked = self.check_secret(app, presented, missing_is_400=self.gen < 4)
            if checked is False:
                return
            sec = checked if isinstance(checked, AppSecret) else None
        code = self.param("code")
        if not code:
            self.oauth_error(400, "invalid_request", "Missing required parameter: code")
            return
        invalid_code = "The authorization code is invalid or expired"
        parsed = parse_prefixed_secret(code)
        if parsed is None:
            self.oauth_error(400, "invalid_grant", invalid_code)
            return
        row = self.state.codes.pop(parsed[0], None)  # consumed before any further check
        now = self.state.clock.now()
        if row is None or not secret_matches(parsed[1], row.secret_hash) or row.app_id != app.id:
            self.oauth_error(400, "invalid_grant", invalid_code)
            return
        if now >= row.expires_at:
            self.oauth_error(400, "invalid_grant", invalid_code)
            return
        if row.code_challenge:
            verifier = self.param("code_verifier")
            valid_shape = bool(_PKCE_RE.match(verifier)) if self.gen >= 3 else bool(verifier)
            if not valid_shape or not hmac.compare_digest(pkce_s256(verifier), row.code_challenge):
                self.oauth_error(400, "invalid_grant", "The PKCE code verifier is invalid")
                return
        resource = self.param("resource")
        if resource != row.resource:
            self.oauth_error(400, "invalid_target", "The resource parameter is invalid")
            return
        redirect_uri = self.param("redirect_uri")
        registered = app.redirect_uris or [app.callback_url]
        if (row.redirect_uri and redirect_uri != row.redirect_uri) or (
            redirect_uri
            and not row.redirect_uri
            and not redirect_uri_matches(redirect_uri, registered, self.generation)
        ):
            self.oauth_error(
                400, "invalid_request", "The request is missing required parameters or is otherwise malformed"
            )
            return
        if self.gen >= 4:
            stale = stale_against(app.scope, row.scope)
            if stale is not None:
                self.oauth_error(
                    400,
                    "invalid_grant",
                    f'scope is no longer allowed by this app\'s registered scopes: "{stale}"',
                )
                return
        user = self.state.users[row.user_id]
        token_name = f"{user.id}_{app.id}_oauth_session_token"
        for key in [k for k in self.state.api_keys.values() if k.token_name == token_name]:
            self.state.delete_api_key(key.id)  # one live token per (user, app)
        self._issue(app, user, sec.id if sec else None, row.scope)

    def _refresh_grant(self, app: OAuthApp, presented: str) -> None:
        sec_id: str | None = None
        if self.gen >= 3 and app.client_type == "confidential":
            checked = self.check_secret(app, presented, missing_is_400=False)
            if checked is False:
                return
            sec_id = checked.id if isinstance(checked, AppSecret) else None
        token = self.param("refresh_token")
        if not token:
            self.oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
            return
        invalid = "The refresh token is invalid or expired"
        parsed = parse_prefixed_secret(token)
        row = self.state.refresh_tokens.get(parsed[0]) if parsed else None
        now = self.state.clock.now()
        if (
            parsed is None
            or row is None
            or not secret_matches(parsed[1], row.secret_hash)
            or row.app_id != app.id
            or now >= row.expires_at
            or row.key_id not in self.state.api_keys
        ):
            self.oauth_error(400, "invalid_grant", invalid)
            return
        scope = row.scope
        if self.gen >= 4:
            try:  # narrows only the minted key; the refresh token keeps the whole grant
                scope = narrow_on_refresh(row.scope, self.param("scope"))
            except ScopeRejected as exc:
                self.oauth_error(400, "invalid_scope", str(exc))
                return
        else:
            requested = self.param("scope").split() if self.gen == 3 else []
            if requested:
                if any(s not in row.scope.split() for s in requested):
                    self.oauth_error(400, "invalid_scope", "The requested scope exceeds the original grant")
                    return
                scope = " ".join(requested)
        old_key = self.state.api_keys[row.key_id]
        self.state.delete_api_key(row.key_id)  # cascades to the refresh token
        user = self.state.users[row.user_id]
        self._issue(app, user, sec_id or old_key.app_secret_id, scope, grant=row.scope)

    def _issue(
        self, app: OAuthApp, user: User, secret_id: str | None, scope: str, *, grant: str | None = None
    ) -> None:
        settings = self.settings_
        token, key = self.state.issue_api_key(
            user,
            lifetime=settings.access_token_ttl,
            login_type="oauth2_provider_app",
            token_name=f"{user.id}_{app.id}_oauth_session_token",
            app_id=app.id,
            app_secret_id=secret_id,
            scope=scope,
        )
        full, prefix, secret = generate_prefixed_secret()
        self.state.refresh_tokens[prefix] = RefreshToken(
            prefix=prefix,
            secret_hash=hash_secret(secret),
            key_id=key.id,
            app_id=app.id,
            user_id=user.id,
            expires_at=self.state.clock.now() + settings.refresh_token_ttl,
            scope=grant or scope,
        )
        remaining = key.expires_at - self.state.clock.now()
        self.set_header("Cache-Control", "no-store")
        self.set_header("Pragma", "no-cache")
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "refresh_token": full,
            "expires_in": max(0, int(remaining)),  # time.Until floors: usually TTL - 1
            "expiry": rfc3339(key.expires_at),
        }
        if self.gen >= 4:
            body["scope"] = scope
        self.send_json(200, body)


class RevokeHandler(_ClientAuthHandler):
    """``POST /oauth2/revoke`` (RFC 7009)."""

    route = "/oauth2/revoke"
    body_limited = True
    uncounted_methods = frozenset({"GET", "PUT", "PATCH", "DELETE"})

    def _not_post(self) -> None:
        self.oauth_error(405, "invalid_request", "Method not allowed")

    get = put = patch = delete = _not_post

    @locked
    def post(self) -> None:
        if self.refuse_query_secret():
            return
        resolved = self.client()
        if resolved is None:
            return
        app, presented = resolved
        # G4 authenticates a confidential client before looking at the token.
        if (
            self.gen >= 4
            and app.client_type == "confidential"
            and self.check_secret(app, presented, missing_is_400=False) is False
        ):
            return
        token = self.param("token")
        if not token:
            self.oauth_error(400, "invalid_request", "missing token parameter")
            return
        if (
            self.gen < 4
            and app.client_type == "confidential"
            and self.check_secret(app, presented, missing_is_400=False) is False
        ):
            return
        state = self.state
        if token.startswith("coder_"):
            parsed = parse_prefixed_secret(token)
            if parsed is None:
                self.oauth_error(400, "invalid_request", "Invalid token format")
                return
            row = state.refresh_tokens.get(parsed[0])
            if row and secret_matches(parsed[1], row.secret_hash) and row.app_id == app.id:
                state.delete_api_key(row.key_id)
        else:
            key_id, sep, secret = token.partition("-")
            if not sep or len(key_id) != 10 or len(secret) != 22:
                self.oauth_error(400, "invalid_request", "Invalid token format")
                return
            key = state.api_keys.get(key_id)
            if (
                key is not None
                and secret_matches(secret, key.secret_hash)
                and key.login_type == "oauth2_provider_app"
                and key.app_id == app.id
            ):
                state.delete_api_key(key.id)
        self.set_status(200)
        self.finish()
