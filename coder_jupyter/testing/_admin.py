"""Owner-only OAuth2 app management under ``/api/v2/oauth2-provider`` (pre-registered clients)."""

from __future__ import annotations

from typing import Any

from ._http import INVALID, BaseHandler, locked
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

FORBIDDEN_DETAIL = (
    "You don't have permission to view this content. If you believe this is a mistake, "
    "please contact your administrator or try signing in with different credentials."
)


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

    def app_request(self) -> dict[str, str] | None:
        body = self.read_json()
        if body is INVALID:
            return None
        if not isinstance(body, dict):
            self.send_response(400, "Request body must be valid JSON.", detail="expected a JSON object")
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


def _secret_json(sec: AppSecret) -> dict[str, Any]:
    return {
        "id": sec.id,
        "client_secret_truncated": f"coder_{sec.prefix}_****",
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
            self.send_json(200, [_secret_json(s) for s in app.secrets.values()])

    @locked
    def post(self, app_id: str) -> None:
        if self.owner() is None:
            return
        app = self.app_or_error(app_id)
        if app is None:
            return
        full, prefix, secret = generate_prefixed_secret()
        sec = AppSecret(
            id=new_uuid(), prefix=prefix, secret_hash=hash_secret(secret), created_at=self.state.clock.now()
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

    @locked
    def get(self) -> None:
        if self.authenticate() is None:
            return
        self.send_json(200, {"dynamic_client_registration_enabled": self.settings_.dcr_enabled})

    @locked
    def put(self) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        if not auth[0].owner:
            self.send_response(403, "Forbidden.", detail=FORBIDDEN_DETAIL)
            return
        body = self.read_json()
        if body is INVALID:
            return
        value = body.get("dynamic_client_registration_enabled") if isinstance(body, dict) else None
        if not isinstance(value, bool):
            self.validation_failed(
                [{"field": "dynamic_client_registration_enabled", "detail": "must be a boolean"}]
            )
            return
        self.settings_.dcr_enabled = value
        self.send_json(200, {"dynamic_client_registration_enabled": value})
