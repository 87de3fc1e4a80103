"""The Coder panel's JSON routes over real HTTP: a Jupyter server (pytest-jupyter) and a fake Coder.

The Jupyter user logs in to Coder through the server's own routes (``coder/api/login``, the fake's
consent page, the callback), exactly as the panel does, so the routes under test sign with
OAuth tokens from the shared store. Every hostile input must be refused before Coder hears of it,
and no response body may ever carry a credential.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from oauthhelpers import query_of  # pytest puts this test directory on sys.path
from pytest_jupyter.jupyter_server import *  # noqa: F403 -- module-local pytest-jupyter fixtures
from test_serverext import CALLBACK, Fetch, _cookie_login, anonymous_xsrf, consent

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder, fake_coder

BASE_URL = "/user/alice/"
ROUTE = "coder/api/workspaces"

# Coder's token shapes: API keys "<10>-<22>", and "coder_<10>_<40>" for refresh tokens, codes, secrets.
SECRET_SHAPES = re.compile(r"\b[A-Za-z0-9]{10}-[A-Za-z0-9]{22}\b|coder_[a-z0-9]{10}_[A-Za-z0-9]{40}")


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"coder_jupyter": True}}}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCoder]:
    with fake_coder(workspaces=3, dcr=True, oauth2_rate_limit=None, api_rate_limit=None) as deployment:
        monkeypatch.setenv("CODER_URL", deployment.url)
        yield deployment


@pytest.fixture
def logged_in(fake: FakeCoder, fetch: Fetch) -> None:
    """Log the Jupyter server in to the fake through its own routes, as the panel does."""
    started = json.loads(fetch("coder/api/login", method="POST", body="{}").body)
    assert fetch(CALLBACK, params=query_of(consent(fake, started["authorization_url"]))).code == 200
    fake.clear_requests()


def get_json(fetch: Fetch, *parts: str, **params: Any) -> Any:
    response = fetch(*parts, params=params)
    assert response.code == 200, response.body
    return json.loads(response.body)


def follow(fake: FakeCoder, fetch: Fetch, ws_id: str, until: str) -> dict[str, Any]:
    """Poll the workspace route like the panel does, moving the fake's clock a build step each time."""
    for _ in range(40):
        body: dict[str, Any] = get_json(fetch, ROUTE, ws_id)
        if body["status"] == until and body["build"]["done"]:
            return body
        fake.advance(0.2)
    raise AssertionError(f"workspace never reached {until!r}: {body}")


def by_name(fetch: Fetch, name: str) -> dict[str, Any]:
    rows = get_json(fetch, ROUTE, q=f"owner:me name:{name}")["workspaces"]
    return next(row for row in rows if row["name"] == name)


# -- the routes' happy paths ----------------------------------------------------------------------


@pytest.mark.usefixtures("logged_in")
def test_list_serves_one_page_with_the_total_count(fake: FakeCoder, fetch: Fetch) -> None:
    # When the panel asks for a page of two
    first = get_json(fetch, ROUTE, q="owner:me", offset="0", limit="2")
    rest = get_json(fetch, ROUTE, q="owner:me", offset="2", limit="2")

    # Then it gets two rows, the total, and the remaining row on the next page
    assert (first["count"], len(first["workspaces"]), len(rest["workspaces"])) == (3, 2, 1)
    assert first["deployment"] == fake.url
    names = [w["name"] for w in first["workspaces"] + rest["workspaces"]]
    assert sorted(names) == ["workspace-1", "workspace-2", "workspace-3"]
    row = first["workspaces"][0]
    assert row["owner"] == fake.username and row["full_name"] == f"{fake.username}/{row['name']}"
    assert row["template"] == "docker" and row["template_display_name"] == "Docker Containers"
    assert row["status"] in ("running", "stopped") and row["build"]["done"] is True
    assert row["dashboard_url"] == f"{fake.url}/@{fake.username}/{row['name']}"
    assert row["last_used_at"] and "outdated" in row


@pytest.mark.usefixtures("logged_in")
def test_list_passes_coders_search_syntax_through(fake: FakeCoder, fetch: Fetch) -> None:
    stopped = get_json(fetch, ROUTE, q="owner:me status:stopped")
    assert [w["name"] for w in stopped["workspaces"]] == ["workspace-3"]
    assert fake.request_counts()["GET", "/api/v2/workspaces"] == 1


@pytest.mark.usefixtures("logged_in")
def test_a_query_coder_rejects_is_a_400_with_coders_message(fetch: Fetch) -> None:
    response = fetch(ROUTE, params={"q": "status:sleepy"})
    assert response.code == 400
    assert "status" in json.loads(response.body)["message"]


@pytest.mark.usefixtures("logged_in")
def test_stop_then_start_reach_their_states(fake: FakeCoder, fetch: Fetch) -> None:
    ws = by_name(fetch, "workspace-1")
    assert ws["status"] == "running"

    # When the panel stops it, the answer is the new build, not yet done
    response = fetch(ROUTE, ws["id"], "stop", method="POST", body="")
    assert response.code == 200, response.body
    build = json.loads(response.body)["build"]
    assert (build["transition"], build["done"]) == ("stop", False)

    # Then polling sees it reach "stopped"; starting it brings it back to "running"
    assert follow(fake, fetch, ws["id"], "stopped")["build"]["id"] == build["id"]
    assert fetch(ROUTE, ws["id"], "start", method="POST", body="").code == 200
    running = follow(fake, fetch, ws["id"], "running")
    assert running["build"]["transition"] == "start"


@pytest.mark.usefixtures("logged_in")
def test_restart_stops_then_starts(fake: FakeCoder, fetch: Fetch) -> None:
    ws = by_name(fetch, "workspace-2")
    before = ws["build"]["number"]

    build = json.loads(fetch(ROUTE, ws["id"], "restart", method="POST", body="").body)["build"]

    assert build["transition"] == "stop"
    for _ in range(60):
        body = get_json(fetch, ROUTE, ws["id"])
        if body["build"]["transition"] == "start" and body["status"] == "running":
            break
        fake.advance(0.2)
    else:
        raise AssertionError(f"restart never started the workspace again: {body}")
    assert body["build"]["number"] == before + 2


@pytest.mark.usefixtures("logged_in")
def test_a_failed_build_shows_its_last_log_lines(fake: FakeCoder, fetch: Fetch) -> None:
    ws_id = fake.create_workspace(fake.username, "doomed", template="broken", ready=True)

    body = get_json(fetch, ROUTE, ws_id)

    assert body["status"] == "failed" and body["build"]["failed"] is True
    assert "broken:latest" in (body["build"]["error"] or "")
    assert any("broken:latest" in line for line in body["build"]["log_tail"])
    assert body["apps"] == []


@pytest.mark.usefixtures("logged_in")
def test_an_unknown_workspace_is_a_404(fetch: Fetch) -> None:
    response = fetch(ROUTE, "0b0b0b0b-0000-4000-8000-000000000000")
    assert response.code == 404


@pytest.mark.usefixtures("logged_in")
def test_coders_rate_limit_reaches_the_panel_as_429_with_retry_after(fake: FakeCoder, fetch: Fetch) -> None:
    fake.add_fault("ratelimit", r"^/api/v2/workspaces$", "GET", retry_after=7)

    response = fetch(ROUTE)

    assert response.code == 429
    assert response.headers["Retry-After"] == "7"


def test_without_a_coder_login_the_panel_is_told_to_log_in(fake: FakeCoder, fetch: Fetch) -> None:
    response = fetch(ROUTE)
    assert response.code == 409
    assert json.loads(response.body)["login_required"] is True


def test_without_a_deployment_the_panel_is_told_so(monkeypatch: pytest.MonkeyPatch, fetch: Fetch) -> None:
    monkeypatch.delenv("CODER_URL", raising=False)
    response = fetch(ROUTE)
    assert response.code == 409
    assert json.loads(response.body)["login_required"] is False


# -- Jupyter authentication and XSRF --------------------------------------------------------------

WS = "0b0b0b0b-0000-4000-8000-000000000000"
ALL_ROUTES = [("GET", ROUTE), ("GET", f"{ROUTE}/{WS}"), ("POST", f"{ROUTE}/{WS}/start"),
              ("POST", f"{ROUTE}/{WS}/stop"), ("POST", f"{ROUTE}/{WS}/restart")]


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
def test_every_route_requires_a_jupyter_login(fake: FakeCoder, fetch: Fetch, method: str, path: str) -> None:
    response = fetch(path, method=method, body="" if method == "POST" else None,
                     headers={"Authorization": ""})
    assert response.code == 403
    assert fake.request_counts() == {}


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_actions_from_a_browser_session_need_the_xsrf_token(
    fake: FakeCoder, fetch: Fetch, jp_serverapp: Any, action: str
) -> None:
    ws = by_name(fetch, "workspace-3")
    fake.clear_requests()
    cookie, xsrf = _cookie_login(fetch, jp_serverapp.identity_provider.token)
    browser = {"Authorization": "", "Cookie": cookie}

    refused = fetch(ROUTE, ws["id"], action, method="POST", body="", headers=browser)

    assert refused.code == 403
    assert fake.request_counts() == {}
    accepted = fetch(ROUTE, ws["id"], action, method="POST", body="",
                     headers={**browser, "X-XSRFToken": xsrf})
    assert accepted.code == 200, accepted.body


@pytest.mark.usefixtures("logged_in")
def test_actions_without_a_jupyter_login_are_refused_even_with_a_valid_xsrf_pair(
    fake: FakeCoder, fetch: Fetch
) -> None:
    xsrf = anonymous_xsrf(fetch)
    response = fetch(ROUTE, WS, "stop", method="POST", body="",
                     headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf})
    assert response.code == 403
    assert fake.request_counts() == {}


# -- hostile input: refused with 400 before Coder is called ---------------------------------------


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("params", [
    {"q": "x" * 513},
    {"q": "owner:me\x00status:running"},
    {"q": "owner:me\nstatus:running"},
    {"q": "owner:me\u202estatus"},
    {"offset": "-1"},
    {"offset": "abc"},
    {"offset": "1e3"},
    {"offset": "9999999999"},
    {"limit": "0"},
    {"limit": "201"},
    {"limit": " 5"},
    {"limit": "٣"},  # an Arabic-Indic digit: str.isdigit() says yes, int() too
], ids=lambda p: repr(p)[:40])
def test_hostile_list_parameters_are_refused(fake: FakeCoder, fetch: Fetch, params: dict[str, str]) -> None:
    response = fetch(ROUTE, params=params)
    assert response.code == 400, response.body
    assert fake.request_counts() == {}


@pytest.mark.usefixtures("logged_in")
def test_a_repeated_q_is_refused(fake: FakeCoder, fetch: Fetch) -> None:
    response = fetch(ROUTE, params=[("q", "owner:me"), ("q", "owner:bob")])
    assert response.code == 400
    assert fake.request_counts() == {}


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("ws_id", [
    "workspace-1",
    "alice%2Fworkspace-1",
    "..",
    "{0b0b0b0b-0000-4000-8000-000000000000}",
    "0b0b0b0b000040008000000000000000",
    "urn:uuid:0b0b0b0b-0000-4000-8000-0000",
    "0b0b0b0b-0000-4000-8000-00000000000g",
])
def test_workspace_ids_that_are_not_uuids_are_refused(fake: FakeCoder, fetch: Fetch, ws_id: str) -> None:
    got = fetch(ROUTE, ws_id)
    posted = fetch(ROUTE, ws_id, "start", method="POST", body="")
    assert (got.code, posted.code) == (400, 400), (got.body, posted.body)
    assert fake.request_counts() == {}


@pytest.mark.usefixtures("logged_in")
@pytest.mark.parametrize("action", ["delete", "DELETE", "Start", "start;stop", "cancel", "update", "%00"])
def test_unknown_actions_are_refused(fake: FakeCoder, fetch: Fetch, action: str) -> None:
    ws = by_name(fetch, "workspace-1")
    fake.clear_requests()
    response = fetch(ROUTE, ws["id"], action, method="POST", body="")
    assert response.code == 400
    assert fake.request_counts() == {}
    assert by_name(fetch, "workspace-1")["build"]["number"] == ws["build"]["number"]


# -- no credential ever reaches the browser -------------------------------------------------------


def test_no_response_body_ever_carries_a_credential(fake: FakeCoder, fetch: Fetch) -> None:
    started = json.loads(fetch("coder/api/login", method="POST", body="{}").body)
    params = query_of(consent(fake, started["authorization_url"]))
    assert fetch(CALLBACK, params=params).code == 200
    tokens = AuthManager(fake.url).credentials.current()
    assert tokens is not None and tokens.access_token and tokens.refresh_token
    doomed = fake.create_workspace(fake.username, "doomed", template="broken", ready=True)
    secrets = {tokens.access_token, tokens.refresh_token, params["code"], fake.session_token,
               *(u.session_token for u in fake.users)}

    bodies: list[bytes] = []
    listing = fetch(ROUTE, params={"limit": "200"})
    bodies.append(listing.body)
    for row in json.loads(listing.body)["workspaces"]:
        bodies.append(fetch(ROUTE, row["id"]).body)
    bodies.append(fetch(ROUTE, doomed).body)
    ws = by_name(fetch, "workspace-3")
    for action in ("start", "stop", "restart"):
        bodies.append(fetch(ROUTE, ws["id"], action, method="POST", body="").body)
    fake.add_fault("ratelimit", r"^/api/v2/workspaces$", "GET")
    bodies.append(fetch(ROUTE).body)
    bodies.append(fetch(ROUTE, params={"q": "x" * 600}).body)

    assert len(bodies) >= 9
    for body in bodies:
        text = body.decode()
        for secret in secrets:
            assert secret not in text
        assert not SECRET_SHAPES.search(text), text
