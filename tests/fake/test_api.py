"""REST API of the fake: CODER_BEHAVIOR.md §11 items 23-30, builds, logs, multi-user, scale."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
import tornado.httpclient
import tornado.websocket
from fakehelpers import tokens_for

from coder_jupyter.testing import FakeCoder, FakeUser

#: These tests describe the G3 provider (items 1-30); G4 (the default) has its own module.
pytestmark = pytest.mark.coder_fake(generation="g3")

SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."


# --------------------------------------------------------------------------- §11.23-25 auth & headers


def test_23_every_token_source_authenticates(coder_fake: FakeCoder, http: httpx.Client) -> None:
    token = coder_fake.session_token
    sources: list[dict[str, object]] = [
        {"headers": {"Coder-Session-Token": token}},
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"cookies": {"coder_session_token": token}},
        {"params": {"coder_session_token": token}},
        {"params": {"access_token": token}},
    ]
    for kwargs in sources:
        with httpx.Client(base_url=coder_fake.url, **kwargs) as client:  # type: ignore[arg-type]
            assert client.get("/api/v2/users/me").status_code == 200, kwargs
    api_token = coder_fake.create_token("admin")
    assert http.get("/api/v2/users/me", headers={"Coder-Session-Token": api_token}).status_code == 200


def test_23_api_tokens_endpoint(coder_fake: FakeCoder, api: httpx.Client, http: httpx.Client) -> None:
    created = api.post("/api/v2/users/me/keys/tokens", json={"token_name": "ci", "lifetime": 3600 * 10**9})
    assert created.status_code == 201
    key = created.json()["key"]
    assert http.get("/api/v2/users/me", headers={"Coder-Session-Token": key}).status_code == 200
    coder_fake.advance(3601)
    assert http.get("/api/v2/users/me", headers={"Coder-Session-Token": key}).status_code == 401


@pytest.mark.coder_fake(access_token_ttl=60)
def test_24_expired_and_revoked_tokens(coder_fake: FakeCoder, http: httpx.Client) -> None:
    _, tokens = tokens_for(http, coder_fake)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    with httpx.Client(base_url=coder_fake.url) as fresh:
        assert fresh.get("/api/v2/users/me", headers=bearer).status_code == 200
        coder_fake.advance(61)
        expired = fresh.get("/api/v2/users/me", headers=bearer)
        assert expired.status_code == 401
        assert expired.json()["message"] == SIGNED_OUT
        assert expired.json()["detail"].startswith("API key expired at")
        assert expired.headers["www-authenticate"] == (
            'Bearer realm="coder", error="invalid_token", error_description="The access token has expired"'
        )
        unknown = fresh.get(
            "/api/v2/users/me", headers={"Authorization": "Bearer abcdefghij-abcdefghijabcdefghijab"}
        )
        assert unknown.json()["detail"] == "API key is invalid."
        assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
        malformed = fresh.get("/api/v2/users/me", headers={"Coder-Session-Token": "nope"})
        assert malformed.json()["detail"].startswith("Invalid API key format")
        missing = fresh.get("/api/v2/users/me")
        assert missing.status_code == 401
        assert missing.json()["detail"] == 'Cookie "coder_session_token" or query parameter must be provided.'


def test_24_suspended_user(coder_fake: FakeCoder, http: httpx.Client) -> None:
    user = coder_fake.create_user("carol")
    coder_fake.suspend_user("carol")
    response = http.get("/api/v2/users/me", headers={"Coder-Session-Token": user.session_token})
    assert response.status_code == 401
    assert "suspended" in response.json()["detail"]


def test_25_buildinfo_without_auth_and_version_header(coder_fake: FakeCoder, http: httpx.Client) -> None:
    info = http.get("/api/v2/buildinfo")
    assert info.status_code == 200
    body = info.json()
    for field in (
        "version",
        "external_url",
        "dashboard_url",
        "deployment_id",
        "telemetry",
        "workspace_proxy",
        "agent_api_version",
        "provisioner_api_version",
        "upgrade_message",
        "webpush_public_key",
    ):
        assert field in body
    assert body["dashboard_url"] == coder_fake.url
    for response in (
        info,
        http.get("/nope"),
        http.get("/api/v2/users/me"),
        http.get("/login"),
        http.get("/.well-known/oauth-authorization-server"),
    ):
        assert response.headers["x-coder-build-version"] == body["version"]
    assert http.get("/nope").json() == {"message": "Route not found."}


# --------------------------------------------------------------------------- users, orgs, templates


def test_users_orgs_templates(coder_fake: FakeCoder, api: httpx.Client) -> None:
    me = api.get("/api/v2/users/me").json()
    assert me["username"] == "admin" and me["roles"][0]["name"] == "owner"
    assert api.get(f"/api/v2/users/{me['id']}").json()["id"] == me["id"]
    assert api.get("/api/v2/users/admin").json()["id"] == me["id"]
    assert api.get("/api/v2/users/ghost").status_code == 400
    orgs = api.get("/api/v2/users/me/organizations").json()
    assert orgs[0]["is_default"] is True and me["organization_ids"] == [orgs[0]["id"]]
    templates = {t["name"]: t for t in api.get("/api/v2/templates").json()}
    assert {"docker", "kubernetes", "broken"} <= set(templates)
    org_templates = api.get(f"/api/v2/organizations/{orgs[0]['id']}/templates").json()
    assert len(org_templates) == len(templates)
    assert templates["docker"]["organization_id"] == orgs[0]["id"]


# --------------------------------------------------------------------------- §11.26 workspaces


@pytest.mark.coder_fake(workspaces=7, users=[FakeUser("alice", workspaces=2)])
def test_26_workspace_listing_and_search(coder_fake: FakeCoder, api: httpx.Client) -> None:
    everything = api.get("/api/v2/workspaces").json()
    assert everything["count"] == 9
    mine = api.get("/api/v2/workspaces", params={"q": "owner:me", "limit": 3, "offset": 2}).json()
    assert mine["count"] == 7 and len(mine["workspaces"]) == 3
    assert [w["name"] for w in mine["workspaces"]] == ["workspace-3", "workspace-4", "workspace-5"]
    assert api.get("/api/v2/workspaces", params={"q": "owner:alice"}).json()["count"] == 2
    assert api.get("/api/v2/workspaces", params={"q": "owner:me name:space-1"}).json()["count"] == 1
    assert api.get("/api/v2/workspaces", params={"q": "owner:me status:stopped"}).json()["count"] == 2
    assert api.get("/api/v2/workspaces", params={"q": "owner:me status:running"}).json()["count"] == 5
    assert api.get("/api/v2/workspaces", params={"q": "template:docker"}).json()["count"] == 9
    assert api.get("/api/v2/workspaces", params={"q": "template:kubernetes"}).json()["count"] == 0
    bad = api.get("/api/v2/workspaces", params={"q": "colour:blue"})
    assert bad.status_code == 400 and bad.json()["validations"][0]["field"] == "colour"
    assert api.get("/api/v2/workspaces", params={"limit": "x"}).status_code == 400
    ws = mine["workspaces"][0]
    for field in (
        "id",
        "name",
        "owner_id",
        "owner_name",
        "organization_id",
        "template_id",
        "template_name",
        "latest_build",
        "health",
        "ttl_ms",
        "automatic_updates",
        "outdated",
        "last_used_at",
    ):
        assert field in ws
    assert ws["latest_build"]["job"]["status"] == "succeeded"


def test_26_workspace_lookup_and_404(coder_fake: FakeCoder, api: httpx.Client) -> None:
    ws_id = coder_fake.create_workspace("admin", "dev")
    assert api.get(f"/api/v2/workspaces/{ws_id}").json()["name"] == "dev"
    assert api.get("/api/v2/users/me/workspace/dev").json()["id"] == ws_id
    not_found = {"message": "Resource not found or you do not have access to this resource"}
    assert api.get(f"/api/v2/workspaces/{uuid.uuid4()}").json() == not_found
    missing = api.get("/api/v2/users/me/workspace/nope")
    assert missing.status_code == 404 and missing.json() == not_found


def test_30_create_workspace_validation_and_conflict(coder_fake: FakeCoder, api: httpx.Client) -> None:
    template_id = next(t["id"] for t in api.get("/api/v2/templates").json() if t["name"] == "docker")
    created = api.post("/api/v2/users/me/workspaces", json={"name": "new-one", "template_id": template_id})
    assert created.status_code == 201
    assert created.json()["latest_build"]["status"] == "pending"
    dup = api.post("/api/v2/users/me/workspaces", json={"name": "new-one", "template_id": template_id})
    assert dup.status_code == 409
    invalid = api.post("/api/v2/users/me/workspaces", json={"name": "bad name!"})
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["message"] == "Validation failed."
    assert {v["field"] for v in body["validations"]} == {"name", "template_id"}
    assert all(set(v) == {"field", "detail"} for v in body["validations"])
    bad_json = api.post(
        "/api/v2/users/me/workspaces", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad_json.json()["message"] == "Request body must be valid JSON."


# --------------------------------------------------------------------------- §11.27-28 builds & logs


def test_27_build_lifecycle_on_the_fake_clock(coder_fake: FakeCoder, api: httpx.Client) -> None:
    ws_id = coder_fake.create_workspace("admin", "dev")
    assert coder_fake.workspace_status(ws_id) == "running"
    stop = api.post(f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "stop"})
    assert stop.status_code == 201
    build = stop.json()
    assert (
        build["transition"] == "stop" and build["status"] == "pending" and build["job"]["status"] == "pending"
    )
    assert api.post(f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "start"}).status_code == 409
    coder_fake.advance(0.3)
    running = api.get(f"/api/v2/workspacebuilds/{build['id']}").json()
    assert (running["status"], running["job"]["status"]) == ("stopping", "running")
    coder_fake.advance(1)
    done = api.get(f"/api/v2/workspaces/{ws_id}").json()
    assert done["latest_build"]["status"] == "stopped"
    assert done["latest_build"]["job"]["status"] == "succeeded"
    assert api.post(f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "reboot"}).status_code == 400
    builds = api.get(f"/api/v2/workspaces/{ws_id}/builds").json()
    assert [b["build_number"] for b in builds] == [2, 1]
    delete = api.post(f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "delete"}).json()
    coder_fake.advance(1)
    assert api.get(f"/api/v2/workspacebuilds/{delete['id']}").json()["status"] == "deleted"
    assert api.get(f"/api/v2/workspaces/{ws_id}").status_code == 404
    assert api.get(f"/api/v2/workspaces/{ws_id}", params={"include_deleted": "true"}).status_code == 200


def test_27_broken_template_fails_and_cancel(coder_fake: FakeCoder, api: httpx.Client) -> None:
    broken = coder_fake.create_workspace("admin", "bad", template="broken", ready=False)
    coder_fake.advance(1)
    ws = api.get(f"/api/v2/workspaces/{broken}").json()
    assert ws["latest_build"]["status"] == "failed"
    assert "exit status 1" in ws["latest_build"]["job"]["error"]
    logs = api.get(f"/api/v2/workspacebuilds/{ws['latest_build']['id']}/logs").json()
    assert any(line["log_level"] == "error" for line in logs)
    ws_id = coder_fake.create_workspace("admin", "good")
    build = api.post(f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "stop"}).json()
    coder_fake.advance(0.3)
    canceled = api.patch(f"/api/v2/workspacebuilds/{build['id']}/cancel")
    assert canceled.status_code == 200
    assert api.get(f"/api/v2/workspacebuilds/{build['id']}").json()["status"] == "canceling"
    coder_fake.advance(1)
    assert api.get(f"/api/v2/workspacebuilds/{build['id']}").json()["status"] == "canceled"
    assert api.patch(f"/api/v2/workspacebuilds/{build['id']}/cancel").status_code == 400


def test_28_logs_json_with_after_before(coder_fake: FakeCoder, api: httpx.Client) -> None:
    ws_id = coder_fake.create_workspace("admin", "dev", ready=False)
    build_id = api.get(f"/api/v2/workspaces/{ws_id}").json()["latest_build"]["id"]
    assert api.get(f"/api/v2/workspacebuilds/{build_id}/logs").json() == []  # still pending
    coder_fake.advance(5)
    logs = api.get(f"/api/v2/workspacebuilds/{build_id}/logs").json()
    assert len(logs) == 6
    assert set(logs[0]) == {"id", "created_at", "log_source", "log_level", "stage", "output"}
    ids = [line["id"] for line in logs]
    assert ids == sorted(ids)
    after = api.get(f"/api/v2/workspacebuilds/{build_id}/logs", params={"after": ids[2]}).json()
    assert [line["id"] for line in after] == ids[3:]
    before = api.get(f"/api/v2/workspacebuilds/{build_id}/logs", params={"before": ids[2]}).json()
    assert [line["id"] for line in before] == ids[:2]


@pytest.mark.coder_fake(build_step_seconds=0.05)
def test_28_logs_follow_websocket(coder_fake: FakeCoder, api: httpx.Client) -> None:
    ws_id = coder_fake.create_workspace("admin", "dev", ready=False)
    build_id = api.get(f"/api/v2/workspaces/{ws_id}").json()["latest_build"]["id"]
    ws_url = (
        coder_fake.url.replace("http://", "ws://") + f"/api/v2/workspacebuilds/{build_id}/logs?follow&after=0"
    )

    async def follow() -> list[dict]:
        request = tornado.httpclient.HTTPRequest(
            ws_url, headers={"Cookie": f"coder_session_token={coder_fake.session_token}"}
        )
        conn = await tornado.websocket.websocket_connect(request)
        received = []
        while True:
            message = await asyncio.wait_for(conn.read_message(), 5)
            if message is None:
                break
            received.append(json.loads(message))
        conn.close()
        return received

    received = asyncio.run(follow())
    assert len(received) == 6
    assert received[-1]["stage"] == "Cleaning Up"
    assert coder_fake.workspace_status(ws_id) == "running"
    unauthenticated = httpx.get(f"{coder_fake.url}/api/v2/workspacebuilds/{build_id}/logs?follow")
    assert unauthenticated.status_code == 401


# --------------------------------------------------------------------------- §11.29 rate limits


@pytest.mark.coder_fake(oauth2_rate_limit=3, api_rate_limit=4)
def test_29_rate_limits(coder_fake: FakeCoder, http: httpx.Client, api: httpx.Client) -> None:
    path = "/.well-known/oauth-authorization-server"
    statuses = [http.get(path).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = http.get(path)
    assert limited.json()["error"] == "temporarily_unavailable"
    assert int(limited.headers["retry-after"]) >= 1
    assert http.get("/.well-known/oauth-protected-resource").status_code == 200  # counted per endpoint
    api_statuses = [api.get("/api/v2/buildinfo").status_code for _ in range(5)]
    assert api_statuses[-1] == 429
    assert (
        api.get("/api/v2/buildinfo").json()["message"]
        == "You've been rate limited for sending too many requests!"
    )
    assert api.get("/api/v2/buildinfo", headers={"X-Coder-Bypass-Ratelimit": "true"}).status_code == 200
    coder_fake.advance(60)
    assert http.get(path).status_code == 200


@pytest.mark.coder_fake(oauth2_rate_limit=2, generation="g1")
def test_29_no_oauth_rate_limit_in_g1(http: httpx.Client) -> None:
    assert {http.get("/.well-known/oauth-authorization-server").status_code for _ in range(4)} == {200}


# --------------------------------------------------------------------------- admin apps


def test_admin_oauth2_apps(coder_fake: FakeCoder, api: httpx.Client, http: httpx.Client) -> None:
    created = api.post(
        "/api/v2/oauth2-provider/apps", json={"name": "Jupyter", "callback_url": "http://localhost/cb"}
    )
    assert created.status_code == 201
    app = created.json()
    assert app["endpoints"]["token"] == f"{coder_fake.url}/oauth2/tokens"
    assert api.get("/api/v2/oauth2-provider/apps").json() == [app]
    assert api.get(f"/api/v2/oauth2-provider/apps/{app['id']}").json() == app
    put = api.put(
        f"/api/v2/oauth2-provider/apps/{app['id']}",
        json={"name": "Jupyter 2", "callback_url": "http://localhost/cb", "icon": ""},
    )
    assert put.json()["name"] == "Jupyter 2"
    secret = api.post(f"/api/v2/oauth2-provider/apps/{app['id']}/secrets")
    assert secret.status_code == 201 and set(secret.json()) == {"id", "client_secret_full"}
    listed = api.get(f"/api/v2/oauth2-provider/apps/{app['id']}/secrets").json()
    assert "client_secret_full" not in listed[0]
    assert (
        api.post("/api/v2/oauth2-provider/apps", json={"name": ""}).json()["message"] == "Validation failed."
    )
    member = coder_fake.create_user("dave")
    forbidden = http.post(
        "/api/v2/oauth2-provider/apps",
        json={"name": "x", "callback_url": "http://localhost/"},
        headers={"Coder-Session-Token": member.session_token},
    )
    assert forbidden.status_code == 403
    client = {
        "client_id": app["id"],
        "client_secret": secret.json()["client_secret_full"],
        "redirect_uris": ["http://localhost/cb"],
    }
    _, tokens = tokens_for(http, coder_fake, client)
    assert (
        api.get("/api/v2/oauth2-provider/apps", params={"user_id": coder_fake.owner.id}).json()[0]["id"]
        == app["id"]
    )
    assert (
        api.delete(f"/api/v2/oauth2-provider/apps/{app['id']}/secrets/{secret.json()['id']}").status_code
        == 204
    )
    with httpx.Client(base_url=coder_fake.url) as fresh:
        me = fresh.get("/api/v2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 401  # deleting a secret revokes its tokens
    assert api.delete(f"/api/v2/oauth2-provider/apps/{app['id']}").status_code == 204
    assert api.get(f"/api/v2/oauth2-provider/apps/{app['id']}").status_code == 404


# --------------------------------------------------------------------------- multi-user & scale


@pytest.mark.coder_fake(workspaces=2, users=[FakeUser("alice", password="alice-pw", workspaces=3), "bob"])
def test_multi_user_isolation(coder_fake: FakeCoder, http: httpx.Client) -> None:
    alice, bob = coder_fake.user("alice"), coder_fake.user("bob")
    as_alice = {"Coder-Session-Token": alice.session_token}
    as_bob = {"Coder-Session-Token": bob.session_token}
    assert http.get("/api/v2/users/me", headers=as_alice).json()["username"] == "alice"
    alice_ws = http.get("/api/v2/workspaces", headers=as_alice).json()
    assert alice_ws["count"] == 3 and {w["owner_name"] for w in alice_ws["workspaces"]} == {"alice"}
    assert http.get("/api/v2/workspaces", headers=as_bob).json() == {"workspaces": [], "count": 0}
    assert http.get("/api/v2/workspaces", params={"q": "owner:admin"}, headers=as_bob).json()["count"] == 0
    ws_id = alice_ws["workspaces"][0]["id"]
    assert http.get(f"/api/v2/workspaces/{ws_id}", headers=as_bob).status_code == 404
    assert (
        http.post(
            f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "stop"}, headers=as_bob
        ).status_code
        == 404
    )
    assert http.get("/api/v2/users/alice/workspace/workspace-1", headers=as_bob).status_code == 404
    login = http.post("/api/v2/users/login", json={"email": "alice@coder.test", "password": "alice-pw"})
    assert login.status_code == 201
    assert coder_fake.owner.owner and not alice.owner


@pytest.mark.coder_fake(workspaces=10_000)
def test_ten_thousand_workspaces_list_quickly(coder_fake: FakeCoder, api: httpx.Client) -> None:
    started = time.perf_counter()
    page = api.get("/api/v2/workspaces", params={"q": "owner:me", "limit": 100, "offset": 9_950}).json()
    elapsed = time.perf_counter() - started
    assert page["count"] == 10_000
    assert len(page["workspaces"]) == 50
    assert elapsed < 2  # sanity only; typically ~15 ms
    assert api.get("/api/v2/workspaces", params={"q": "name:workspace-9999"}).json()["count"] == 1
