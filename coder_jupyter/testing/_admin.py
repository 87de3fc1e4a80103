"""Owner-only OAuth2 app management under ``/api/v2/oauth2-provider`` (pre-registered clients).

G4 (CODER_BEHAVIOR.md §3 "G4: admin app management API"): apps take ``redirect_uris`` and an
optional ``scope`` allowlist; names may hold spaces (64 characters at most); callbacks follow
the DCR rules; ``PUT`` keeps omitted ``redirect_uris``/``scope``. An admin pre-registers a client::

    POST /api/v2/oauth2-provider/apps          {"name", "redirect_uris": [...], "scope"?}  -> {"id", ...}
    POST /api/v2/oauth2-provider/apps/{id}/secrets                   -> {"id", "client_secret_full"}

and turns dynamic client registration on with
``PUT /api/v2/oauth2-provider/settings {"dynamic_client_registration_enabled": true}``.
"""

from __future__ import annotations

from typing import Any

from ._http import FORBIDDEN_DETAIL, INVALID, BaseHandler, locked
from ._registration import MetadataError, validate_redirect_uri
from ._scopes import ScopeRejected, check_list_size
from ._serialize import app_json
from ._state import (
    AppSecret,
    OAuthApp,
    User,
    generate_prefixed_secret,
    hash_secret,
    is_uuid,
    new_uuid,
    rfc3339,
)

_REQUIRED = 'Validation failed for tag "required" with value: ""'


def _name_problem(name: object) -> str | None:
    """G4 name rule: required, at most 64 characters, spaces allowed but not around it."""
    if not isinstance(name, str) or not name:
        return _REQUIRED
    if len(name) > 64:
        return "name must be at most 64 characters"
    if name != name.strip():
        return "name must not have leading or trailing whitespace"
    return None


def _uri_problem(uris: list[str], *, public: bool) -> str | None:
    if len(uris) > 32:
        return "at most 32 redirect URIs are allowed"
    for uri in uris:
        if not isinstance(uri, str):
            return "redirect URIs must be strings"
        lowered = uri.lower()
        if lowered == "urn:ietf:wg:oauth:2.0:oob":
            continue
        try:
            validate_redirect_uri(uri, public=public)
        except MetadataError as exc:
            return f"invalid callback URL {uri!r}: {exc}"
    return None


class _AdminHandler(BaseHandler):
    gate = "oauth2"
    rate_bucket = "api"

    def owner(self) -> User | None:
        auth = self.authenticate()
        if auth is None:
            return None
        if not auth[0].owner:
            self.send_response(403, "Forbidden.", detail=FORBIDDEN_DETAIL)
            return None
        return auth[0]

    def app_or_error(self, app_id: str) -> OAuthApp | None:
        if not is_uuid(app_id):
            self.send_response(400, "Invalid OAuth2 provider app ID.", detail=f'invalid UUID "{app_id}"')
            return None
        app = self.state.apps.get(app_id)
        if app is None:
            self.not_found()
        return app

    def g4_app_request(self, app: OAuthApp | None) -> dict[str, Any] | None:
        """Validate a G4 create (``app=None``) or update body; returns the new field values."""
        body = self.read_json_object()
        if body is None:
            return None
        validations: list[dict[str, str]] = []
        problem = _name_problem(body.get("name"))
        if problem:
            validations.append({"field": "name", "detail": problem})
        uris_sent = body.get("redirect_uris") is not None
        callback = body.get("callback_url") or ""
        if uris_sent:
            uris = body.get("redirect_uris")
            uris = list(uris) if isinstance(uris, list) else [uris]
        elif callback:
            old = list(app.redirect_uris) if app else []
            uris = [callback] + [u for u in old[1:] if u != callback]
        elif app is not None:
            uris = list(app.redirect_uris)
        else:
            uris = []
        field = "redirect_uris" if uris_sent else "callback_url"
        if not uris:
            validations.append({"field": field, "detail": _REQUIRED})
        else:
            public = app is not None and app.client_type == "public"
            problem = _uri_problem(uris, public=public)
            if problem:
                validations.append({"field": field, "detail": problem})
        scope = body.get("scope")
        if scope is not None:
            try:
                check_list_size(str(scope))
            except ScopeRejected:
                validations.append({"field": "scope", "detail": "scope must list at most 100 names"})
        if validations:
            self.validation_failed(validations)
            return None
        return {
            "name": body["name"],
            "icon": str(body.get("icon") or ""),
            "redirect_uris": [str(u) for u in uris],
            "scope": None if scope is None else str(scope),
        }

    def app_request(self) -> dict[str, str] | None:
        body = self.read_json_object()
        if body is None:
            return None
        validations = [
            {"field": name, "detail": 'Validation failed for tag "required" with value: ""'}
            for name in ("name", "callback_url")
            if not body.get(name)
        ]
        if validations:
            self.validation_failed(validations)
            return None
        return {k: str(body.get(k) or "") for k in ("name", "callback_url", "icon")}


class AppsHandler(_AdminHandler):
    """``GET`` lists apps (``?user_id=`` keeps apps the user has authorized); ``POST`` creates one."""

    route = "/api/v2/oauth2-provider/apps"

    @locked
    def get(self) -> None:
        if self.authenticate() is None:
            return
        apps: list[OAuthApp] = sorted(self.state.apps.values(), key=lambda a: a.name.lower())
        user_id = self.get_query_argument("user_id", "")
        if user_id:
            authorized = {k.app_id for k in self.state.api_keys.values() if k.user_id == user_id and k.app_id}
            apps = [a for a in apps if a.id in authorized]
        self.send_json(200, [app_json(self.ctx.base_url, a) for a in apps])

    @locked
    def post(self) -> None:
        if self.owner() is None:
            return
        if self.gen >= 4:
            new = self.g4_app_request(None)
            if new is None:
                return
            app = OAuthApp(
                id=new_uuid(),
                name=new["name"],
                icon=new["icon"],
                callback_url=new["redirect_uris"][0],
                redirect_uris=new["redirect_uris"],
                client_type="confidential",
                dynamically_registered=False,
                created_at=self.state.clock.now(),
                scope=new["scope"] or "",
            )
            self.state.apps[app.id] = app
            self.send_json(201, app_json(self.ctx.base_url, app))
            return
        req = self.app_request()
        if req is None:
            return
        app = OAuthApp(
            id=new_uuid(),
            name=req["name"],
            icon=req["icon"],
            callback_url=req["callback_url"],
            redirect_uris=[req["callback_url"]],
            client_type="confidential",
            dynamically_registered=False,
            created_at=self.state.clock.now(),
        )
        self.state.apps[app.id] = app
        self.send_json(201, app_json(self.ctx.base_url, app))


class AppHandler(_AdminHandler):
    route = "/api/v2/oauth2-provider/apps/{app}"

    @locked
    def get(self, app_id: str) -> None:
        if self.authenticate() is None:
            return
        app = self.app_or_error(app_id)
        if app is not None:
            self.send_json(200, app_json(self.ctx.base_url, app))

    @locked
    def put(self, app_id: str) -> None:
        if self.owner() is None:
            return
        app = self.app_or_error(app_id)
        if app is None:
            return
        if self.gen >= 4:
            new = self.g4_app_request(app)
            if new is None:
                return
            app.name, app.icon, app.redirect_uris = new["name"], new["icon"], new["redirect_uris"]
            app.callback_url = app.redirect_uris[0]
            if new["scope"] is not None:  # omitted: kept; "": cleared (unrestricted)
                app.scope = new["scope"]
            self.send_json(200, app_json(self.ctx.base_url, app))
            return
        req = self.app_request()
        if req is None:
            return
        app.name, app.icon, app.callback_url = req["name"], req["icon"], req["callback_url"]
        app.redirect_uris = [app.callback_url]
        self.send_json(200, app_json(self.ctx.base_url, app))

    @locked
    def delete(self, app_id: str) -> None:
        if self.owner() is None:
            return
        app = self.app_or_error(app_id)
        if app is not None:
            self.state.delete_app(app.id)
            self.no_content()


def _secret_json(sec: AppSecret, gen: int) -> dict[str, Any]:
    return {
        "id": sec.id,
        "client_secret_truncated": sec.tail if gen >= 4 else f"coder_{sec.prefix}_****",
        "last_used_at": rfc3339(sec.last_used_at) if sec.last_used_at else None,
    }


class AppSecretsHandler(_AdminHandler):
    """``GET`` lists secrets (never the secret itself); ``POST`` creates one and shows it once."""

    route = "/api/v2/oauth2-provider/apps/{app}/secrets"

    @locked
    def get(self, app_id: str) -> None:
        if self.owner() is None:
            return
        app = self.app_or_error(app_id)
        if app is not None:
            self.send_json(200, [_secret_json(s, self.gen) for s in app.secrets.values()])

    @locked
    def post(self, app_id: str) -> None:
        if self.owner() is None:
            return
        app = self.app_or_error(app_id)
        if app is None:
            return
        full, prefix, secret = generate_prefixed_secret()
        sec = AppSecret(
            id=new_uuid(),
            prefix=prefix,
            secret_hash=hash_secret(secret),
            created_at=self.state.clock.now(),
            tail=full[-6:],
        )
        app.secrets[sec.id] = sec
        self.send_json(201, {"id": sec.id, "client_secret_full": full})


class AppSecretHandler(_AdminHandler):
    """``DELETE`` a secret; tokens issued under it are revoked too."""

    route = "/api/v2/oauth2-provider/apps/{app}/secrets/{secretID}"

    @locked
    def delete(self, app_id: str, secret_id: str) -> None:
        if self.owner() is None:
            return
        app = self.app_or_error(app_id)
        if app is None:
            return
        if app.secrets.pop(secret_id, None) is None:
            self.not_found()
            return
        for key in [k for k in self.state.api_keys.values() if k.app_secret_id == secret_id]:
            self.state.delete_api_key(key.id)
        self.no_content()


class ProviderSettingsHandler(BaseHandler):
    """``GET``/``PUT /api/v2/oauth2-provider/settings``: reachable even while the provider is off."""

    route = "/api/v2/oauth2-provider/settings"
    rate_bucket = "api"

    def _admin(self) -> bool:
        auth = self.authenticate()
        if auth is None:
            return False
        if not auth[0].owner:
            self.send_response(403, "Forbidden.", detail=FORBIDDEN_DETAIL)
            return False
        return True

    @locked
    def get(self) -> None:
        if self.gen >= 4:
            if not self._admin():
                return
        elif self.authenticate() is None:
            return
        self.send_json(200, {"dynamic_client_registration_enabled": self.settings_.dcr_enabled})

    @locked
    def put(self) -> None:
        if not self._admin():
            return
        body = self.read_json()
        if body is INVALID:
            return
        value = body.get("dynamic_client_registration_enabled") if isinstance(body, dict) else None
        if value is None and isinstance(body, dict):  # an omitted field leaves the value alone
            value = self.settings_.dcr_enabled
        if not isinstance(value, bool):
            self.validation_failed(
                [{"field": "dynamic_client_registration_enabled", "detail": "must be a boolean"}]
            )
            return
        self.settings_.dcr_enabled = value
        self.send_json(200, {"dynamic_client_registration_enabled": value})
