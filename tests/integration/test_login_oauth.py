"""OAuth login against the fake Coder over real HTTP: discovery, registration, consent, callback,
token exchange, logout — for each provider generation."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oauthhelpers import REDIRECT, consent  # pytest puts this test directory on sys.path

from coder_jupyter._config import CoderConfig
from coder_jupyter._engine import finish_login
from coder_jupyter._login import AuthManager
from coder_jupyter.errors import (
    AccessDeniedError,
    AuthenticationError,
    LoginStateError,
    OAuthUnavailableError,
    RegistrationUnavailableError,
)
from coder_jupyter.testing import FakeCoder, fake_coder

# Coder's G4 default has DCR off: these tests play an admin who turned it on.
pytestmark = pytest.mark.coder_fake(dcr=True)


def api_status(fake: FakeCoder, token: str) -> int:
    return httpx.get(f"{fake.url}/api/v2/users/me", headers={"Coder-Session-Token": token}).status_code


@pytest.mark.parametrize("generation", ["g1", "g2", "g3"])
def test_headless_login_then_logout_revokes(generation: str) -> None:
    with fake_coder(generation=generation, dcr=True) as fake:
        auth = AuthManager(fake.url)
        # When
        started = auth.begin_login(redirect_uri=REDIRECT)
        status = auth.finish_login(consent(fake, started.authorization_url))
        # Then
        assert (status.status, status.method, status.username) == ("logged_in", "oauth", fake.username)
        tokens = auth.credentials.current()
        assert tokens is not None and api_status(fake, tokens.access_token) == 200
        # When
        report = auth.logout()
        # Then
        assert (report.revoked, report.local_credentials) == ("ok", "ok")
        assert api_status(fake, tokens.access_token) == 401
        assert auth.status().status == "logged_out"


def test_login_is_reused_by_a_new_manager_and_registration_is_cached(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.finish_login(consent(coder_fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url))
    # When another kernel starts
    other = AuthManager(coder_fake.url)
    # Then it is logged in without network I/O, and a new login reuses the registration
    assert other.status().status == "logged_in"
    client_id = auth.store.load_registration().client_id  # type: ignore[union-attr]
    other.begin_login(redirect_uri=REDIRECT)
    assert coder_fake.request_counts()["POST", "/oauth2/register"] == 1
    assert other.store.load_registration().client_id == client_id  # type: ignore[union-attr]


def test_new_redirect_uri_updates_the_registration(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.begin_login(redirect_uri=REDIRECT)
    # When
    second = "https://jupyter.example.com/user/alice/coder/oauth/callback"
    started = auth.begin_login(redirect_uri=second)
    # Then the same client now knows both URIs, and the consent page accepts the new one
    registration = auth.store.load_registration()
    assert registration is not None and set(registration.redirect_uris) >= {REDIRECT, second}
    assert coder_fake.request_counts()["POST", "/oauth2/register"] == 1
    assert consent(coder_fake, started.authorization_url).startswith(second + "?")


def test_client_forgotten_by_the_server_is_registered_again(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.begin_login(redirect_uri=REDIRECT)
    old = auth.store.load_registration()
    assert old is not None and old.registration_client_uri
    httpx.delete(
        old.registration_client_uri, headers={"Authorization": f"Bearer {old.registration_access_token}"}
    )
    # When
    started = auth.begin_login(redirect_uri=REDIRECT)
    # Then
    new = auth.store.load_registration()
    assert new is not None and new.client_id != old.client_id
    assert auth.finish_login(consent(coder_fake, started.authorization_url)).status == "logged_in"


def test_cancel_shows_access_denied(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    started = auth.begin_login(redirect_uri=REDIRECT)
    with pytest.raises(AccessDeniedError, match="cancelled"):
        auth.finish_login(consent(coder_fake, started.authorization_url, allow=False))
    assert auth.status().status == "error"


@pytest.mark.coder_fake(generation="g1")
def test_g1_cancel_without_state_fails_the_pending_login(coder_fake: FakeCoder) -> None:
    # Given a deployment configured as one whose Cancel omits state (G1)
    auth = AuthManager(coder_fake.url, config=CoderConfig(oauth_cancel_without_state=True))
    started = auth.begin_login(redirect_uri=REDIRECT)
    cancel = consent(coder_fake, started.authorization_url, allow=False)
    assert "state" not in parse_qs(urlsplit(cancel).query)
    # When the server extension receives it
    with pytest.raises(AccessDeniedError):
        finish_login({k: v[0] for k, v in parse_qs(urlsplit(cancel).query).items()})
    # Then the pending login is gone: its state is refused afterwards
    with pytest.raises(LoginStateError):
        auth.finish_login({"code": "x", "state": started.state})


def test_replayed_and_wrong_state_are_refused(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    callback = consent(coder_fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url)
    auth.finish_login(callback)
    with pytest.raises(LoginStateError):
        auth.finish_login(callback)  # replayed
    started = auth.begin_login(redirect_uri=REDIRECT)
    forged = consent(coder_fake, started.authorization_url).replace(f"state={started.state}", "state=forged")
    with pytest.raises(LoginStateError):
        auth.finish_login(forged)


def test_expired_state_is_refused(coder_fake: FakeCoder) -> None:
    now = [1_000_000.0]
    auth = AuthManager(coder_fake.url, clock=lambda: now[0])
    started = auth.begin_login(redirect_uri=REDIRECT, timeout=60)
    callback = consent(coder_fake, started.authorization_url)
    now[0] += 61
    with pytest.raises(LoginStateError, match=r"expired|unknown"):
        auth.finish_login(callback)


@pytest.mark.coder_fake(dcr=False)
def test_dcr_off_names_the_fix_and_a_preregistered_client_works(
    coder_fake: FakeCoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RegistrationUnavailableError, match="CODER_OAUTH_CLIENT_ID"):
        AuthManager(coder_fake.url).begin_login(redirect_uri=REDIRECT)
    # When an admin-made client is configured through the environment
    app = coder_fake.create_oauth2_app("Jupyter", REDIRECT)
    monkeypatch.setenv("CODER_OAUTH_CLIENT_ID", app.client_id)
    monkeypatch.setenv("CODER_OAUTH_CLIENT_SECRET", app.client_secret)
    auth = AuthManager(coder_fake.url)
    started = auth.begin_login(redirect_uri=REDIRECT)
    # Then
    assert auth.finish_login(consent(coder_fake, started.authorization_url)).status == "logged_in"


@pytest.mark.parametrize(("generation", "needle"), [("g3", "disabled"), ("g1", "experiment")])
def test_oauth_off_suggests_a_token(generation: str, needle: str) -> None:
    with fake_coder(generation=generation, oauth2=False) as fake:
        with pytest.raises(OAuthUnavailableError, match=needle) as info:
            AuthManager(fake.url).begin_login(redirect_uri=REDIRECT)
        assert "CODER_SESSION_TOKEN" in str(info.value)


def test_login_finished_by_the_server_process_is_noticed(coder_fake: FakeCoder) -> None:
    kernel = AuthManager(coder_fake.url)
    started = kernel.begin_login(redirect_uri=REDIRECT)
    callback = consent(coder_fake, started.authorization_url)
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    # When the Jupyter server's callback route finishes it (another thread stands in for the process)
    server = threading.Thread(target=finish_login, args=(query,))
    server.start()
    # Then
    status = kernel.wait_for_login(timeout=10)
    server.join()
    assert (status.status, status.username) == ("logged_in", coder_fake.username)


def test_login_that_fails_in_the_server_process_is_noticed_at_once(coder_fake: FakeCoder) -> None:
    kernel = AuthManager(coder_fake.url)
    started = kernel.begin_login(redirect_uri=REDIRECT)
    callback = consent(coder_fake, started.authorization_url, allow=False)
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    # When the Jupyter server's callback route gets the Cancel redirect
    with pytest.raises(AccessDeniedError):
        finish_login(query)
    # Then the kernel that started the login learns it now, not at its 5-minute timeout
    with pytest.raises(AccessDeniedError):
        kernel.wait_for_login(timeout=5)
    assert kernel.status().status == "logged_out"


def test_token_login_and_bad_token(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    status = auth.login_with_token(coder_fake.session_token)
    assert (status.status, status.method, status.username) == ("logged_in", "token", coder_fake.username)
    assert AuthManager(coder_fake.url).status().status == "logged_in"  # persisted
    with pytest.raises(AuthenticationError):
        AuthManager(coder_fake.url).login_with_token("bad0000000-0000000000000000000000")


def test_oob_login_with_a_pasted_code(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    shown: list[str] = []

    def paste(_prompt: str) -> str:
        url = shown[-1].splitlines()[-1]
        return parse_qs(urlsplit(consent(coder_fake, url)).query)["code"][0]

    status = auth.login_oob(prompt=paste, show=shown.append)
    assert status.status == "logged_in"


def test_loopback_login(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    pages: list[str] = []
    browsers: list[threading.Thread] = []

    def browser(message: str) -> None:
        def run() -> None:
            callback = consent(coder_fake, message.splitlines()[-1])
            pages.append(httpx.get(callback, timeout=10).text)

        browsers.append(threading.Thread(target=run))
        browsers[-1].start()

    status = auth.login_loopback(open_browser=False, show=browser, timeout=10)
    browsers[0].join()
    assert status.status == "logged_in"
    assert f"Logged in to Coder as {coder_fake.username}" in pages[0]
    registration = auth.store.load_registration()
    assert registration is not None and registration.redirect_uris[0].startswith("http://127.0.0.1:")


def test_cli_session_is_used_until_an_oauth_login_replaces_it(coder_fake: FakeCoder) -> None:
    import os
    from pathlib import Path

    cli = Path(os.environ["CODER_CONFIG_DIR"])
    cli.mkdir(parents=True, exist_ok=True)
    (cli / "url").write_text(coder_fake.url + "\n")
    (cli / "session").write_text(coder_fake.session_token + "\n")
    auth = AuthManager(coder_fake.url)
    assert auth.status().method == "cli"
    # When an OAuth login lands in the store, it outranks the CLI's session
    auth.finish_login(consent(coder_fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url))
    status = auth.status(check=True)
    assert (status.method, status.username) == ("oauth", coder_fake.username)
    # And after logout the CLI session is used again; the report says so
    report = auth.logout()
    assert "still used" in report.local_credentials and auth.status().method == "cli"


def test_env_token_outranks_the_store(coder_fake: FakeCoder, monkeypatch: pytest.MonkeyPatch) -> None:
    AuthManager(coder_fake.url).login_with_token(coder_fake.session_token)
    other = coder_fake.create_token(coder_fake.username)
    monkeypatch.setenv("CODER_SESSION_TOKEN", other)
    auth = AuthManager(coder_fake.url)
    tokens = auth.credentials.current()
    assert auth.status().method == "env" and tokens is not None and tokens.access_token == other


def test_logout_can_delete_the_dynamic_registration(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.finish_login(consent(coder_fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url))
    registration = auth.store.load_registration()
    assert registration is not None and registration.registration_client_uri
    report = auth.logout(delete_registration=True)
    assert (report.revoked, report.local_credentials, report.registration) == ("ok", "ok", "ok")
    assert auth.store.load_registration() is None
    bearer = {"Authorization": f"Bearer {registration.registration_access_token}"}
    assert httpx.get(registration.registration_client_uri, headers=bearer).status_code == 401


async def test_await_login_times_out_and_cancels(coder_fake: FakeCoder) -> None:
    from coder_jupyter.errors import LoginTimeoutError

    auth = AuthManager(coder_fake.url)
    started = auth.begin_login(redirect_uri=REDIRECT)
    assert auth.status().status == "waiting"
    with pytest.raises(LoginTimeoutError):
        await auth.await_login(timeout=0.05)
    # the timed-out login's state is refused afterwards
    with pytest.raises(LoginStateError):
        auth.finish_login(consent(coder_fake, started.authorization_url))


def test_loopback_listener_is_single_use_and_times_out() -> None:
    from coder_jupyter._loopback import LoopbackListener
    from coder_jupyter.errors import LoginTimeoutError

    with LoopbackListener(outcome_timeout=0.01) as listener:
        listener.expect("s")
        assert httpx.get(f"http://127.0.0.1:{listener.port}/favicon.ico").status_code == 404
        first = httpx.get(listener.redirect_uri + "?code=c&state=s")
        assert first.status_code == 200 and "code=c" not in first.text
        assert listener.wait(1).endswith("/callback?code=c&state=s")
        assert httpx.get(listener.redirect_uri + "?code=d&state=s").status_code == 404
    with LoopbackListener() as idle, pytest.raises(LoginTimeoutError):
        idle.wait(0.05)


def test_a_later_oauth_login_wins_over_the_env_token_when_the_store_ranks_first(
    coder_fake: FakeCoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the store ranked before CODER_SESSION_TOKEN, and only the env token at start
    monkeypatch.setenv("CODER_SESSION_TOKEN", coder_fake.session_token)
    auth = AuthManager(coder_fake.url, config=CoderConfig(login_methods=["store", "env"]))
    assert auth.status().method == "env"
    # When the user logs in with OAuth in the same kernel
    auth.finish_login(consent(coder_fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url))
    # Then the new login is used (the sources are walked per request, nothing was pinned)
    tokens = auth.credentials.current()
    assert tokens is not None and tokens.method == "oauth" and tokens.access_token != coder_fake.session_token
    assert auth.status().method == "oauth"
    # And after logging out, the env token is used again
    auth.logout()
    assert auth.status().method == "env"
