"""CoderAuth against the fake over real HTTP: refresh before expiry and on 401, invalid_grant,
transient failures, changes made by other processes, and the async twin."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from oauthhelpers import login_by_consent  # pytest puts this test directory on sys.path

from coder_jupyter import _flows as flows
from coder_jupyter._login import AuthManager
from coder_jupyter._transport import drive
from coder_jupyter.errors import NotLoggedInError, OAuthError
from coder_jupyter.testing import FakeCoder

# Coder's G4 default has DCR off: these tests play an admin who turned it on.
pytestmark = pytest.mark.coder_fake(dcr=True)


def logged_in(fake: FakeCoder, **options: object) -> AuthManager:
    auth = login_by_consent(fake, **options)
    auth.credentials.backoff = (0.01, 0.01)
    return auth


def me(fake: FakeCoder, auth: AuthManager) -> httpx.Response:
    with httpx.Client(auth=auth.httpx_auth) as client:
        return client.get(f"{fake.url}/api/v2/users/me")


def refreshes(fake: FakeCoder) -> int:
    return fake.request_counts()["POST", "/oauth2/tokens"]


@pytest.mark.coder_fake(access_token_ttl=600)
def test_refreshes_before_expiry(coder_fake: FakeCoder) -> None:
    now = [__import__("time").time()]
    auth = logged_in(coder_fake, clock=lambda: now[0])
    before = auth.credentials.current()
    # When our clock is within the margin of the expiry
    now[0] += 600 - 30
    # Then one refresh happens and the rotated tokens are stored
    assert me(coder_fake, auth).status_code == 200
    assert refreshes(coder_fake) == 1
    after = AuthManager(coder_fake.url).credentials.current()
    assert after is not None and before is not None
    assert (after.access_token, after.refresh_token) != (before.access_token, before.refresh_token)


@pytest.mark.coder_fake(access_token_ttl=600)
def test_refreshes_once_on_401(coder_fake: FakeCoder) -> None:
    auth = logged_in(coder_fake)
    # When the server thinks the token expired (its clock ran ahead)
    coder_fake.advance(601)
    # Then
    assert me(coder_fake, auth).status_code == 200
    assert refreshes(coder_fake) == 1
    assert [r.status for r in coder_fake.requests if r.path == "/api/v2/users/me"] == [401, 200]


def test_invalid_grant_logs_out(coder_fake: FakeCoder) -> None:
    auth = logged_in(coder_fake)
    tokens = auth.credentials.current()
    registration = auth.store.load_registration()
    metadata = auth.store.load_metadata()
    assert tokens and registration and metadata
    # Given someone else rotated the tokens without telling our store
    with httpx.Client() as client:
        drive(flows.refresh(metadata, registration, tokens), client)
    # When
    with pytest.raises(NotLoggedInError, match="log in again"):
        me(coder_fake, auth)
    # Then
    status = auth.status()
    assert status.status == "logged_out" and status.error and "log in again" in status.error
    assert AuthManager(coder_fake.url).status().status == "logged_out"


@pytest.mark.coder_fake(access_token_ttl=600)
def test_server_error_during_refresh_keeps_credentials(coder_fake: FakeCoder) -> None:
    auth = logged_in(coder_fake)
    coder_fake.advance(601)
    coder_fake.add_fault("error", "^/oauth2/tokens$", "POST", status=500)
    # When
    with pytest.raises(OAuthError) as info:
        me(coder_fake, auth)
    # Then: retried, reported as a server problem, credentials kept
    assert info.value.status == 500 and refreshes(coder_fake) == 3
    assert AuthManager(coder_fake.url).status().status == "logged_in"
    # And once the server recovers, the same credentials refresh fine
    coder_fake.clear_faults()
    assert me(coder_fake, auth).status_code == 200


def test_other_process_login_and_logout_are_noticed(coder_fake: FakeCoder) -> None:
    kernel = AuthManager(coder_fake.url)
    assert kernel.status().status == "logged_out" and not kernel.changed()
    # When another process logs in
    other = logged_in(coder_fake)
    # Then
    assert kernel.changed() and kernel.status().status == "logged_in"
    assert me(coder_fake, kernel).status_code == 200
    # When it logs out
    other.logout()
    assert kernel.changed() and kernel.status().status == "logged_out"


@pytest.mark.coder_fake(access_token_ttl=600)
async def test_async_client_refreshes_on_401(coder_fake: FakeCoder) -> None:
    auth = logged_in(coder_fake)
    coder_fake.advance(601)
    async with httpx.AsyncClient(auth=auth.httpx_auth) as client:
        response = await client.get(f"{coder_fake.url}/api/v2/users/me")
    assert response.status_code == 200 and refreshes(coder_fake) == 1


def test_explicit_token_wins_and_is_not_refreshed(coder_fake: FakeCoder) -> None:
    logged_in(coder_fake)
    auth = AuthManager(coder_fake.url, token=coder_fake.session_token)
    assert auth.status().method == "token"
    tokens = auth.credentials.current()
    assert tokens is not None and tokens.access_token == coder_fake.session_token
    assert dataclasses.replace(tokens).refresh_token is None


@pytest.mark.coder_fake(access_token_ttl=600)
def test_threads_share_one_refresh(coder_fake: FakeCoder) -> None:
    import threading

    auth = logged_in(coder_fake)
    coder_fake.advance(601)
    statuses: list[int] = []
    start = threading.Barrier(6)

    def call() -> None:
        start.wait()
        statuses.append(me(coder_fake, auth).status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6 and refreshes(coder_fake) == 1
