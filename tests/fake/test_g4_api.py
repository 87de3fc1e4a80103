"""G4 (the fake's default) REST API and admin API: CODER_BEHAVIOR.md §11 items 43, 51, 52, 54, 55, 58,
and scope enforcement on every route of the permission table."""

from __future__ import annotations

import json

import httpx
import pytest
from fakehelpers import CALLBACK, admin_client, oauth_tokens, tokens_for

from coder_jupyter.testing import FakeCoder
from coder_jupyter.testing._permissions import ROUTE_PERMISSIONS

ACCESS = "coder:workspaces.access"
NOT_FOUND = {"message": "Resource not found or you do not have access to this resource"}
FORBIDDEN = {
    "message": "Forbidden.",
    "detail": "You don't have permission to view this content. If you believe this is a mistake, "
    "please contact your administrator or try signing in with different credentials.",
}
SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."


def token_with_scope(fake: FakeCoder, http: httpx.Client, scope: str) -> dict[str, str]:
    """Headers carrying an OAuth access token granted exactly ``scope`` (app without allowlist)."""
    tokens = oauth_tokens(fake, http, admin_client(fake), scope=scope)
    assert tokens["scope"] == scope
    return {"Coder-Session-Token": tokens["access_token"]}


def template_id(fake: FakeCoder, name: str) -> str:
    template = fake.state.find_template(name)
    assert template is not None
    return template.id


# --------------------------------------------------------------------------- 43 enforcement


@pytest.mark.coder_fake(workspaces=2)
def test_43_rest_api_enforces_the_granted_scope(coder_fake: FakeCoder, http: httpx.Client) -> None:
    tokens = oauth_tokens(coder_fake, http, admin_client(coder_fake, scope=ACCESS))
    assert tokens["scope"] == ACCESS
    scoped = {"Coder-Session-Token": tokens["access_token"]}
    docker = template_id(coder_fake, "docker")
    assert http.get(f"/api/v2/templates/{docker}", headers=scoped).status_code == 200
    delete = http.delete(f"/api/v2/templates/{docker}", headers=scoped)
    assert (delete.status_code, delete.json()) == (403, FORBIDDEN)
    me = http.get("/api/v2/users/me", headers=scoped)
    assert (me.status_code, me.json()) == (404, NOT_FOUND)
    listing = http.get("/api/v2/workspaces", params={"q": "owner:me"}, headers=scoped)
    assert listing.status_code == 200 and listing.json()["count"] == 2
    workspace = listing.json()["workspaces"][0]["id"]
    # can list but not stop a workspace
    stop = http.post(f"/api/v2/workspaces/{workspace}/builds", json={"transition": "stop"}, headers=scoped)
    assert (stop.status_code, stop.json()) == (403, FORBIDDEN)
    assert coder_fake.workspace_status(workspace) == "running"
    # an unrestricted grant (coder:all) can do what the user can; so can the user's session
    unrestricted = {
        "Coder-Session-Token": oauth_tokens(coder_fake, http, admin_client(coder_fake))["access_token"]
    }
    assert http.get("/api/v2/users/me", headers=unrestricted).status_code == 200
    stopped = http.post(
        f"/api/v2/workspaces/{workspace}/builds", json={"transition": "stop"}, headers=unrestricted
    )
    assert stopped.status_code == 201
    kubernetes = template_id(coder_fake, "kubernetes")
    assert http.delete(f"/api/v2/templates/{kubernetes}", headers=unrestricted).status_code == 200
    session = {"Coder-Session-Token": coder_fake.session_token}
    assert http.get("/api/v2/oauth2-provider/settings", headers=session).status_code == 200


@pytest.mark.coder_fake(workspaces=1)
def test_43_listings_come_back_empty_without_read_scope(coder_fake: FakeCoder, http: httpx.Client) -> None:
    headers = token_with_scope(coder_fake, http, "user:read")
    listing = http.get("/api/v2/workspaces", params={"q": "owner:me"}, headers=headers)
    assert listing.json() == {"workspaces": [], "count": 0}
    assert http.get("/api/v2/templates", headers=headers).json() == []
    assert http.get("/api/v2/users/me", headers=headers).status_code == 200
    ssh_only = token_with_scope(coder_fake, http, "workspace:ssh")
    assert http.get("/api/v2/workspaces", headers=ssh_only).json()["count"] == 0


@pytest.mark.coder_fake(workspaces=1)
def test_43_every_table_route_denies_a_token_without_its_permission(
    coder_fake: FakeCoder, http: httpx.Client
) -> None:
    """Walks the whole route→permission table with a token that carries none of the permissions."""
    owner = {"Coder-Session-Token": coder_fake.session_token}
    workspace = http.get("/api/v2/workspaces", headers=owner).json()["workspaces"][0]
    app = admin_client(coder_fake)
    secret = http.get(f"/api/v2/oauth2-provider/apps/{app['client_id']}/secrets", headers=owner).json()[0]
    values = {
        "{user}": "me",
        "{org}": workspace["organization_id"],
        "{name}": workspace["name"],
        "{app}": app["client_id"],
        "{secretID}": secret["id"],
    }
    ids = {
        "/api/v2/templates/{id}": workspace["template_id"],
        "/api/v2/workspaces/{id}": workspace["id"],
        "/api/v2/workspaces/{id}/builds": workspace["id"],
        "/api/v2/workspacebuilds/{id}": workspace["latest_build"]["id"],
        "/api/v2/workspacebuilds/{id}/cancel": workspace["latest_build"]["id"],
        "/api/v2/workspacebuilds/{id}/logs": workspace["latest_build"]["id"],
    }
    bodies = {
        "/api/v2/users/{user}/workspaces": {"name": "new-one", "template_id": workspace["template_id"]},
        "/api/v2/workspaces/{id}/builds": {"transition": "stop"},
        "/api/v2/oauth2-provider/apps": {"name": "x", "redirect_uris": [CALLBACK]},
        "/api/v2/oauth2-provider/settings": {"dynamic_client_registration_enabled": True},
    }
    headers = token_with_scope(coder_fake, http, "file:read")
    for (method, route), route_needs in ROUTE_PERMISSIONS.items():
        path = route.replace("{id}", ids.get(route, ""))
        for placeholder, value in values.items():
            path = path.replace(placeholder, value)
        body = bodies.get(route.replace("/organizations/{org}/members/{user}", "/users/{user}"))
        response = http.request(
            method, path, headers=headers, content=json.dumps(body) if body is not None else None
        )
        denial = route_needs[0][2]
        where = f"{method} {route}"
        if denial == "404":
            assert response.status_code == 404, where
            if method != "HEAD":
                assert response.json() == NOT_FOUND, where
        elif denial == "403":
            assert (response.status_code, response.json()) == (403, FORBIDDEN), where
        else:
            assert response.status_code == 200, where
            listed = response.json()
            assert (listed.get("workspaces") if isinstance(listed, dict) else listed) == [], where
    assert coder_fake.workspace_status(workspace["id"]) == "running"


@pytest.mark.coder_fake(generation="g3", workspaces=1)
def test_43_g3_tokens_were_unrestricted(coder_fake: FakeCoder, http: httpx.Client) -> None:
    _, tokens = tokens_for(http, coder_fake, admin_client(coder_fake, scope=ACCESS))
    assert "scope" not in tokens
    assert http.get("/api/v2/users/me", headers={"Coder-Session-Token": tokens["access_token"]}).is_success


# --------------------------------------------------------------------------- 51-52 auth


def test_51_rest_api_401_challenge(coder_fake: FakeCoder, http: httpx.Client) -> None:
    metadata = f"{coder_fake.url}/.well-known/oauth-protected-resource"
    for method in ("GET", "HEAD"):
        response = http.request(method, "/api/v2/users/me")
        assert response.status_code == 401, method
        assert response.headers["www-authenticate"] == (
            'Bearer realm="coder", error="invalid_token", error_description="The access token is invalid", '
            f'resource_metadata="{metadata}"'
        )
        if method == "GET":
            assert response.json() == {
                "message": SIGNED_OUT,
                "detail": 'Cookie "coder_session_token" or query parameter must be provided.',
            }
    token = coder_fake.create_token(coder_fake.username, lifetime=60)
    coder_fake.advance(120)
    expired = http.get("/api/v2/users/me", headers={"Coder-Session-Token": token})
    assert expired.status_code == 401
    assert 'error_description="The access token has expired"' in expired.headers["www-authenticate"]
    assert f'resource_metadata="{metadata}"' in expired.headers["www-authenticate"]


def test_52_token_source_precedence(coder_fake: FakeCoder, http: httpx.Client) -> None:
    a = coder_fake.session_token
    b = coder_fake.create_user("bob").session_token
    c = coder_fake.create_user("carol").session_token

    def who(headers: dict[str, str], cookies: dict[str, str] | None = None) -> str:
        with httpx.Client(base_url=coder_fake.url, cookies=cookies) as client:
            response = client.get("/api/v2/users/me", headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["username"])

    both = {"Coder-Session-Token": a, "Authorization": f"Bearer {b}"}
    assert who(both) == coder_fake.username
    assert who({"Authorization": f"bearer {b}"}) == "bob"
    assert who(both, cookies={"coder_session_token": c}) == "carol"


# --------------------------------------------------------------------------- 54-55 admin apps


INVALID_CALLBACKS = [
    "localhost:3000",
    "vscode:",
    "a:",
    "vscode://",
    "http:foo",
    "http:/callback",
    "https:///callback",
    "coder.com",
    "http//coder",
    "bar",
    "/bar/baz/qux",
    "http",
    "http://",
    "bar baz qux",
    "JaVaScRiPt:alert(1)",
    "DaTa:text/plain,invalid",
    "FiLe:///tmp/invalid",
    "FtP://example.com/invalid",
    "urn:example:invalid",
    "URN:example:invalid",
    "http://example.com/callback",
]
VALID_CALLBACKS = [
    "vscode://coder.coder-remote/oauth/callback",
    "com.example.app:/oauth2redirect",
    "URN:ietf:wg:oauth:2.0:oob",
    "https://example.com/callback",
    "http://localhost:3000",
]


def test_54_admin_app_names(coder_fake: FakeCoder, http: httpx.Client) -> None:
    headers = {"Coder-Session-Token": coder_fake.session_token}
    apps = "/api/v2/oauth2-provider/apps"
    for name in ("VS Code Coder Extension", "Cursor (MCP)", "a" * 64):
        created = http.post(apps, json={"name": name, "redirect_uris": [CALLBACK]}, headers=headers)
        assert created.status_code == 201, name
        body = created.json()
        assert body["name"] == name
        assert body["client_type"] == "confidential" and body["dynamically_registered"] is False
        assert body["callback_url"] == body["redirect_uris"][0] == CALLBACK
    for name in ("a" * 65, " foo", "foo ", ""):
        refused = http.post(apps, json={"name": name, "redirect_uris": [CALLBACK]}, headers=headers)
        assert refused.status_code == 400, name
        assert refused.json()["validations"][0]["field"] == "name"
    app_id = http.post(apps, json={"name": "x", "callback_url": CALLBACK}, headers=headers).json()["id"]
    renamed = http.put(f"{apps}/{app_id}", json={"name": " bad"}, headers=headers)
    assert renamed.status_code == 400


@pytest.mark.parametrize("callback", INVALID_CALLBACKS)
def test_54_admin_app_invalid_callbacks(coder_fake: FakeCoder, http: httpx.Client, callback: str) -> None:
    headers = {"Coder-Session-Token": coder_fake.session_token}
    apps = "/api/v2/oauth2-provider/apps"
    created = http.post(apps, json={"name": "x", "callback_url": callback}, headers=headers)
    assert created.status_code == 400
    assert [v["field"] for v in created.json()["validations"]] == ["callback_url"]
    listed = http.post(apps, json={"name": "x", "redirect_uris": [callback]}, headers=headers)
    assert [v["field"] for v in listed.json()["validations"]] == ["redirect_uris"]
    app_id = http.post(apps, json={"name": "x", "callback_url": CALLBACK}, headers=headers).json()["id"]
    updated = http.put(f"{apps}/{app_id}", json={"name": "x", "callback_url": callback}, headers=headers)
    assert updated.status_code == 400


def test_54_admin_app_valid_callbacks_and_put_semantics(coder_fake: FakeCoder, http: httpx.Client) -> None:
    headers = {"Coder-Session-Token": coder_fake.session_token}
    apps = "/api/v2/oauth2-provider/apps"
    for callback in VALID_CALLBACKS:
        assert (
            http.post(apps, json={"name": "x", "callback_url": callback}, headers=headers).status_code == 201
        )
    many = [f"https://example.com/{i}" for i in range(33)]
    assert http.post(apps, json={"name": "x", "redirect_uris": many}, headers=headers).status_code == 400
    created = http.post(
        apps,
        json={
            "name": "Notebook",
            "redirect_uris": [CALLBACK, "https://b.example/cb"],
            "scope": "all workspace:read all",
        },
        headers=headers,
    ).json()
    url = f"{apps}/{created['id']}"
    assert created["scope"] == "coder:all workspace:read"
    kept = http.put(url, json={"name": "Notebook"}, headers=headers).json()
    assert kept["scope"] == "coder:all workspace:read"
    assert kept["redirect_uris"] == [CALLBACK, "https://b.example/cb"]
    promoted = http.put(
        url, json={"name": "Notebook", "callback_url": "https://b.example/cb"}, headers=headers
    )
    assert promoted.json()["redirect_uris"] == ["https://b.example/cb"]
    too_many = " ".join(f"workspace:read{i}" for i in range(101))
    oversized = http.put(url, json={"name": "Notebook", "scope": too_many}, headers=headers)
    assert oversized.status_code == 400
    assert "at most 100 names" in oversized.json()["validations"][0]["detail"]
    assert http.get(url, headers=headers).json()["scope"] == "coder:all workspace:read"
    cleared = http.put(url, json={"name": "Notebook", "scope": ""}, headers=headers).json()
    assert cleared["scope"] == ""


def test_55_app_secrets(coder_fake: FakeCoder, http: httpx.Client) -> None:
    headers = {"Coder-Session-Token": coder_fake.session_token}
    app_id = http.post(
        "/api/v2/oauth2-provider/apps", json={"name": "x", "redirect_uris": [CALLBACK]}, headers=headers
    ).json()["id"]
    secrets = f"/api/v2/oauth2-provider/apps/{app_id}/secrets"
    created = http.post(secrets, headers=headers)
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store" and created.headers["pragma"] == "no-cache"
    body = created.json()
    assert set(body) == {"id", "client_secret_full"}
    full = body["client_secret_full"]
    assert full.startswith("coder_") and len(full) == len("coder_") + 10 + 1 + 40
    listed = http.get(secrets, headers=headers)
    assert listed.json() == [{"id": body["id"], "last_used_at": None, "client_secret_truncated": full[-6:]}]
    assert full not in listed.text
    assert http.delete(f"{secrets}/{body['id']}", headers=headers).status_code == 204
    assert http.get(secrets, headers=headers).json() == []


# --------------------------------------------------------------------------- 58 CLI


def test_58_routes_the_coder_cli_needs(coder_fake: FakeCoder, http: httpx.Client) -> None:
    """``coder login --use-token-as-session`` then ``coder whoami``: buildinfo, users/first, users/me."""
    info = http.get("/api/v2/buildinfo")
    assert info.status_code == 200 and info.json()["version"]
    first = http.get("/api/v2/users/first")
    assert first.status_code == 200
    assert first.json()["message"] == "The initial user has already been created!"
    tokens = oauth_tokens(
        coder_fake,
        http,
        admin_client(coder_fake),
        scope="coder:workspaces.operate coder:workspaces.access user:read user:read_personal",
    )
    headers = {"Coder-Session-Token": tokens["access_token"]}
    me = http.get("/api/v2/users/me", headers=headers)
    assert me.status_code == 200 and me.json()["username"] == coder_fake.username
    assert http.get("/api/v2/users/me/organizations", headers=headers).json()[0]["name"] == "coder"
    assert http.get("/api/v2/workspaces", params={"q": "owner:me"}, headers=headers).status_code == 200
