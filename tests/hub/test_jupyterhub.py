"""coder_jupyter on a real JupyterHub: two users, each behind the proxy under ``/user/<name>/``.

The tests share one hub and one browser (see conftest.py). The admin's Coder settings decide
which client the servers use; :meth:`Hub.reconfigure` restarts both servers only when a test
needs other settings than the previous one, so the file runs top to bottom with one switch.
"""

from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hub_harness import CODER_ACCOUNTS, Hub, HubUser, snapshot

from coder_jupyter.testing import FakeCoder

pytestmark = [pytest.mark.hub, pytest.mark.browser, pytest.mark.slow]

CALLBACK = "coder/oauth/callback"
#: The one redirect URI an admin registers for a pre-registered client: JupyterHub's
#: ``/hub/user-redirect/`` forwards it, query included, to the signed-in user's own server.
USER_REDIRECT_CALLBACK = f"hub/user-redirect/{CALLBACK}"


@pytest.fixture
def dynamic_registration(hub: Hub, hub_fake: FakeCoder, hub_users: dict[str, HubUser]) -> dict[str, HubUser]:
    """The admin set only CODER_URL; Coder allows dynamic client registration."""
    hub_fake.set_dcr(True)
    hub.reconfigure({}, list(hub_users.values()))
    return hub_users


@pytest.fixture
def preregistered_client(hub: Hub, hub_fake: FakeCoder, hub_users: dict[str, HubUser]) -> str:
    """DCR is off; the admin created one OAuth2 app in Coder and gave every server its id and secret."""
    hub_fake.set_dcr(False)
    redirect_uri = f"{hub.url}{USER_REDIRECT_CALLBACK}"
    app = hub_fake.create_oauth2_app("JupyterHub (coder_jupyter)", redirect_uri)
    hub.reconfigure(
        {
            "CODER_OAUTH_CLIENT_ID": app.client_id,
            "CODER_OAUTH_CLIENT_SECRET": app.client_secret,
            "CODER_OAUTH_REDIRECT_URI": redirect_uri,
        },
        list(hub_users.values()),
    )
    return app.client_id


def test_each_user_gets_their_own_server_home_and_store_from_the_admin_config(
    hub: Hub, hub_users: dict[str, HubUser]
) -> None:
    # When each user runs the first cell of their notebook
    for user in hub_users.values():
        user.run_cell(0)
    # Then each kernel runs as that hub user, with the store inside their own HOME and the admin's CODER_URL
    for name, user in hub_users.items():
        text = user.output(0, "env:")
        assert f"env: {name} {hub.store(name)} {hub.coder_url}" in text


def test_hub_user_redirect_forwards_a_callback_with_its_query_to_the_signed_in_users_server(
    hub: Hub, hub_users: dict[str, HubUser]
) -> None:
    alice = hub_users["alice"]
    query = urlencode({"code": "not-a-real-code", "state": "not-a-real-state"})
    tab = alice.context.new_page()
    # When Alice's browser follows the admin's single, user-independent redirect URI
    tab.goto(f"{hub.url}{USER_REDIRECT_CALLBACK}?{query}")
    # Then the hub sends it to Alice's own server's callback route, query intact
    final = urlsplit(tab.url)
    tab.close()
    assert final.path == f"/user/alice/{CALLBACK}"
    assert parse_qs(final.query) == {"code": ["not-a-real-code"], "state": ["not-a-real-state"]}


def test_two_users_log_in_through_the_widget_each_as_their_own_coder_user(
    hub: Hub, hub_fake: FakeCoder, dynamic_registration: dict[str, HubUser]
) -> None:
    users = dynamic_registration
    # When each user loads the extension, clicks "Log in" and approves on Coder's consent page
    for user in users.values():
        user.log_in_with_widget()
        user.run_cell(2)
    # Then each notebook's coder.me() names that user's own Coder account
    for name, user in users.items():
        coder_name = CODER_ACCOUNTS[name][0]
        user.output(2, f"coder.me: {coder_name}")
        # and the redirect URI was the browser's origin + /user/<name>/ + the callback path
        assert set(user.redirect_uris) == {f"{user.base_url}{CALLBACK}"}
        # and the credentials live in that user's own store (0700 dir, 0600 files), nowhere else
        store = hub.store(name)
        assert stat.S_IMODE(store.stat().st_mode) == 0o700
        files = [p for p in store.rglob("*") if p.is_file()]
        assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
        other = CODER_ACCOUNTS["bob" if name == "alice" else "alice"][0]
        assert not any(other.encode() in p.read_bytes() for p in files)
    # and each server registered its own client (one per user, by dynamic registration)
    assert hub_fake.request_counts()["POST", "/oauth2/register"] >= 2


def test_a_callback_carrying_another_users_state_is_refused_and_changes_nothing(
    hub: Hub, hub_users: dict[str, HubUser]
) -> None:
    alice, bob = hub_users["alice"], hub_users["bob"]
    # Given Bob started a login (as his front end does: POST with the XSRF header) and approved it
    status, started = bob.fetch("POST", "coder/api/login", {})
    assert status == 200, started
    consent = bob.context.new_page()
    consent.goto(started["authorization_url"])
    bob.approve_at_coder(consent, click_allow=False)
    # Allow, as the consent form does, but without following Coder's redirect to the callback
    allowed = bob.context.request.post(
        started["authorization_url"],
        form={"csrf_token": consent.locator("input[name=csrf_token]").input_value()},
        max_redirects=0,
    )
    assert allowed.status == 302
    bobs_query = urlsplit(allowed.headers["location"]).query
    alice_before = (alice.fetch("GET", "coder/api/status"), snapshot(hub.store("alice")))

    # When Bob's code and state arrive at Alice's server (Alice's browser, Alice's hub session)
    tab = alice.context.new_page()
    response = tab.goto(f"{alice.base_url}{CALLBACK}?{bobs_query}")
    tab.close()

    # Then Alice's server refuses it, and Alice's status and store are untouched
    assert response is not None and response.status == 400
    assert (alice.fetch("GET", "coder/api/status"), snapshot(hub.store("alice"))) == alice_before
    # and the code was not spent: Bob's own server still finishes his login with it
    response = consent.goto(f"{bob.base_url}{CALLBACK}?{bobs_query}")
    assert response is not None and response.status == 200
    status, body = bob.fetch("GET", "coder/api/status")
    assert (status, body["status"], body["username"]) == (200, "logged_in", CODER_ACCOUNTS["bob"][0])
    consent.close()


def test_an_admins_preregistered_client_works_for_both_users_without_dynamic_registration(
    hub: Hub, hub_fake: FakeCoder, preregistered_client: str, hub_users: dict[str, HubUser]
) -> None:
    hub_fake.clear_requests()
    # When each user logs in through the widget on servers the admin configured with one client
    for user in hub_users.values():
        user.redirect_uris.clear()
        user.log_in_with_widget()
        user.run_cell(2)
    # Then each is logged in as their own Coder user, through the admin's app and its one redirect URI
    for name, user in hub_users.items():
        user.output(2, f"coder.me: {CODER_ACCOUNTS[name][0]}")
        assert set(user.redirect_uris) == {f"{hub.url}{USER_REDIRECT_CALLBACK}"}
    assert hub_fake.request_counts()["POST", "/oauth2/register"] == 0
    with hub_fake.state.lock:
        owners = {hub_fake.state.users[k.user_id].username for k in hub_fake.state.api_keys.values()
                  if k.app_id == preregistered_client}
    assert owners == {CODER_ACCOUNTS[name][0] for name in hub_users}
