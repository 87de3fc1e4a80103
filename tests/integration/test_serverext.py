"""The server extension over real HTTP: a Jupyter server (pytest-jupyter) and a fake Coder.

The Jupyter server runs under ``base_url = /user/alice/`` (JupyterHub's shape). Logins are started
with the real login engine, approved on the fake's consent page with plain httpx, and finished by
fetching the callback route — the path a browser takes. Hostile callbacks must be refused with an
escaped page, a strict CSP, and nothing consumed or stored.

pytest-jupyter's fixtures are imported into this module (not registered as a global plugin), so
its autouse event-loop fixture affects only these tests. The tests are synchronous and run the
server's coroutines on that loop.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oauthhelpers import consent, query_of  # pytest puts this test directory on sys.path
from pytest_jupyter.jupyter_server import *  # noqa: F403 -- module-local pytest-jupyter fixtures
from tornado.httpclient import HTTPResponse

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder, fake_coder

BASE_URL = "/user/alice/"
CALLBACK = "coder/oauth/callback"

Fetch = Callable[..., HTTPResponse]


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"coder_jupyter": True}}}
    if "deployment_in_server_config" in request.fixturenames:
        config["CoderConfig"] = {"url": request.getfixturevalue("fake").url}
    return config


@pytest.fixture
def deployment_in_server_config(fake: FakeCoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requesting this puts ``c.CoderConfig.url`` in the server's config, and unsets CODER_URL."""
    monkeypatch.delenv("CODER_URL", raising=False)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCoder]:
    with fake_coder(oauth2_rate_limit=None, api_rate_limit=None, dcr=True) as deployment:
        monkeypatch.setenv("CODER_URL", deployment.url)
        yield deployment


@pytest.fixture
def callback_url(jp_http_port: int) -> str:
    return f"http://127.0.0.1:{jp_http_port}{BASE_URL}{CALLBACK}"


@pytest.fixture
def auth(fake: FakeCoder) -> Iterator[AuthManager]:
    manager = AuthManager(fake.url)
    yield manager
    manager.cancel_login()


# -- helpers --------------------------------------------------------------------------------------


def consent_query(fake: FakeCoder, authorization_url: str, *, allow: bool = True) -> dict[str, str]:
    """Play the user on Coder's consent page; return the callback's query parameters."""
    return query_of(consent(fake, authorization_url, allow=allow))


def body_of(response: HTTPResponse) -> str:
    return response.body.decode()


def assert_safe_page(response: HTTPResponse, *secrets: str) -> str:
    """The page has the strict headers, one nonce'd script, and none of ``secrets``."""
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp and "form-action 'none'" in csp
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp)
    assert nonce, csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in headers["Cache-Control"]
    assert headers["Content-Type"].startswith("text/html")
    text = body_of(response)
    assert re.findall(r"<script[^>]*>", text) == [f"<script nonce='{nonce.group(1)}'>"]
    for secret in secrets:
        assert secret not in text
    return text


def token_requests(fake: FakeCoder) -> int:
    return sum(n for (method, route), n in fake.request_counts().items()
               if method == "POST" and "oauth2/tokens" in route)


def assert_logged_out(fake: FakeCoder) -> None:
    assert AuthManager(fake.url).status().status == "logged_out"


# -- the callback: happy path ---------------------------------------------------------------------


def test_callback_finishes_the_login_and_names_deployment_and_user(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)

    # When the browser comes back to the Jupyter server
    response = fetch(CALLBACK, params=params)

    # Then the page says who is logged in where, and carries neither code nor state nor token
    assert response.code == 200
    text = assert_safe_page(response, params["code"], params["state"])
    assert f"Logged in to {html.escape(fake.url)} as {fake.username}" in text
    assert "You can close this window" in text
    assert '"ok": true' in text and "window.location.origin" in text
    # and any process sees the tokens in the store
    status = AuthManager(fake.url).status()
    assert (status.status, status.username, status.method) == ("logged_in", fake.username, "oauth")
    tokens = AuthManager(fake.url).credentials.current()
    assert tokens is not None and tokens.access_token not in text


def test_callback_route_is_under_the_servers_base_url(
    fetch: Fetch, http_server_client: Any, jp_asyncio_loop: Any, jp_auth_header: dict[str, str]
) -> None:
    # When the route is asked for without the base_url prefix
    response = jp_asyncio_loop.run_until_complete(http_server_client.fetch(
        f"/{CALLBACK}", headers=jp_auth_header, raise_error=False, follow_redirects=False))

    # Then it is not there: the extension registered it under /user/alice/ only
    assert response.code == 404


# -- the callback: hostile requests ---------------------------------------------------------------


def test_unauthenticated_callback_is_refused_and_consumes_nothing(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)

    # When a browser without a Jupyter login delivers the callback
    response = fetch(CALLBACK, params=params, headers={"Authorization": ""})

    # Then it is refused with our page (no redirect that would carry the code to the login page)
    assert response.code == 403
    text = assert_safe_page(response, params["code"], params["state"])
    assert "Not logged in to Jupyter" in text
    assert token_requests(fake) == 0
    assert_logged_out(fake)
    # and the pending login was not consumed: the real browser can still finish it
    assert fetch(CALLBACK, params=params).code == 200


def test_unknown_state_is_refused_without_exchanging_the_code(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)

    # When the callback names a state no login started
    response = fetch(CALLBACK, params={**params, "state": "forged-state-value"})

    # Then
    assert response.code == 400
    text = assert_safe_page(response, params["code"], "forged-state-value")
    assert "unknown, was already used, or has expired" in text
    assert token_requests(fake) == 0
    assert_logged_out(fake)


def test_replayed_callback_is_refused_and_keeps_the_first_login(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)
    assert fetch(CALLBACK, params=params).code == 200
    first = AuthManager(fake.url).credentials.current()

    # When the same callback URL is loaded again (history, a second tab, an attacker)
    response = fetch(CALLBACK, params=params)

    # Then the state is single use
    assert response.code == 400
    assert_safe_page(response, params["code"], params["state"])
    assert token_requests(fake) == 1
    assert AuthManager(fake.url).credentials.current() == first


def test_expired_state_is_refused(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url, timeout=0.0)
    params = consent_query(fake, started.authorization_url)

    # When the callback arrives after the pending login's lifetime
    response = fetch(CALLBACK, params=params)

    # Then
    assert response.code == 400
    assert "expired" in assert_safe_page(response, params["code"], params["state"])
    assert token_requests(fake) == 0
    assert_logged_out(fake)


def test_missing_code_is_refused_and_the_pending_login_survives(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)

    # When
    response = fetch(CALLBACK, params={"state": params["state"]})

    # Then
    assert response.code == 400
    assert "no authorization code" in assert_safe_page(response, params["state"])
    assert_logged_out(fake)
    assert fetch(CALLBACK, params=params).code == 200


def test_missing_state_is_refused(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)

    # When
    response = fetch(CALLBACK, params={"code": params["code"]})

    # Then
    assert response.code == 400
    assert "no state" in assert_safe_page(response, params["code"])
    assert token_requests(fake) == 0
    assert fetch(CALLBACK, params=params).code == 200


def test_error_description_with_markup_is_shown_escaped(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"

    # When Coder (or anyone) redirects back with an error carrying markup
    response = fetch(CALLBACK, params={"error": "access_denied", "error_description": hostile,
                                        "state": started.state})

    # Then the text is shown, inert
    assert response.code == 403
    text = assert_safe_page(response, started.state)
    assert "<script>alert(1)" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Login cancelled" in text
    assert token_requests(fake) == 0
    assert_logged_out(fake)


def test_unknown_error_code_with_markup_is_escaped(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)

    # When
    response = fetch(CALLBACK, params={"error": "<b>bad</b>", "error_description": "\"'><svg onload=x>",
                                        "state": started.state})

    # Then
    assert response.code == 400
    text = assert_safe_page(response)
    assert "<b>bad" not in text and "<svg" not in text
    assert "&lt;b&gt;bad&lt;/b&gt;" in text


@pytest.mark.parametrize("name", ["code", "state", "error_description", "padding"])
def test_very_long_parameters_are_refused_before_the_store_is_read(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str, name: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)

    # When one parameter is 5 KiB long
    response = fetch(CALLBACK, params={**params, name: "A" * 5000})

    # Then
    assert response.code == 400
    assert "too long" in assert_safe_page(response, params["code"], params["state"], "A" * 200)
    assert token_requests(fake) == 0
    assert fetch(CALLBACK, params=params).code == 200


def test_callback_accepts_get_only(fake: FakeCoder, fetch: Fetch) -> None:
    # When
    response = fetch(CALLBACK, method="POST", body="code=x&state=y")

    # Then
    assert response.code in (403, 405)
    assert_logged_out(fake)


# -- the JSON API ---------------------------------------------------------------------------------


def test_status_reports_the_configured_deployment_without_secrets(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    before = json.loads(fetch("coder/api/status").body)
    assert before["deployment"].rstrip("/") == fake.url.rstrip("/")
    assert before["status"] == "logged_out"

    started = auth.begin_login(callback_url)
    assert fetch(CALLBACK, params=consent_query(fake, started.authorization_url)).code == 200

    # When
    response = fetch("coder/api/status")

    # Then
    after = json.loads(response.body)
    assert (after["status"], after["username"], after["method"]) == ("logged_in", fake.username, "oauth")
    assert set(after) == {"deployment", "status", "username", "method", "expires_at", "error",
                          "oauth_available", "deployments_in_use"}
    assert after["deployments_in_use"] == 1  # the status bar then shows the host in its title only
    tokens = AuthManager(fake.url).credentials.current()
    assert tokens is not None
    assert tokens.access_token not in body_of(response)
    assert "no-store" in response.headers["Cache-Control"]


def test_status_without_a_configured_deployment(monkeypatch: pytest.MonkeyPatch, fetch: Fetch) -> None:
    monkeypatch.delenv("CODER_URL", raising=False)

    # When
    body = json.loads(fetch("coder/api/status").body)

    # Then
    assert body["status"] == "unconfigured" and body["deployment"] is None


def test_the_deployment_can_come_from_jupyter_server_config(
    fake: FakeCoder, deployment_in_server_config: None, fetch: Fetch
) -> None:
    # When c.CoderConfig.url is in the server's config and CODER_URL is not set
    body = json.loads(fetch("coder/api/status").body)

    # Then
    assert body["deployment"].rstrip("/") == fake.url.rstrip("/")


def test_login_route_starts_a_login_that_the_callback_finishes(
    fake: FakeCoder, fetch: Fetch, callback_url: str
) -> None:
    # When the status bar asks the server to start a login
    response = fetch("coder/api/login", method="POST", body=json.dumps({"redirect_uri": callback_url}))

    # Then it gets an address for the popup, and the popup's callback logs the user in
    assert response.code == 200, response.body
    started = json.loads(response.body)
    assert set(started) == {"authorization_url", "redirect_uri", "expires_at"}
    assert started["redirect_uri"] == callback_url
    assert started["authorization_url"].startswith(fake.url)
    assert json.loads(fetch("coder/api/status").body)["status"] == "waiting"
    assert fetch(CALLBACK, params=consent_query(fake, started["authorization_url"])).code == 200
    assert json.loads(fetch("coder/api/status").body)["status"] == "logged_in"


def test_login_route_defaults_the_redirect_uri_to_this_servers_callback(
    fake: FakeCoder, fetch: Fetch, callback_url: str
) -> None:
    # When
    response = fetch("coder/api/login", method="POST", body="{}")

    # Then
    assert response.code == 200, response.body
    assert json.loads(response.body)["redirect_uri"] == callback_url


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/user/alice/coder/oauth/callback",
    "http://127.0.0.1:1/user/alice/coder/oauth/callback",
    "javascript:alert(1)",
    "CALLBACK?x=1",
    "CALLBACK#frag",
    "http://127.0.0.1:PORT/user/bob/coder/oauth/callback",
])
def test_login_route_refuses_a_redirect_uri_that_is_not_this_servers_callback(
    fake: FakeCoder, fetch: Fetch, callback_url: str, jp_http_port: int, redirect_uri: str
) -> None:
    redirect_uri = redirect_uri.replace("CALLBACK", callback_url).replace("PORT", str(jp_http_port))

    # When
    response = fetch("coder/api/login", method="POST", body=json.dumps({"redirect_uri": redirect_uri}))

    # Then
    assert response.code == 400
    assert fake.request_counts() == {}


def test_cancel_route_drops_the_pending_login(fake: FakeCoder, fetch: Fetch, callback_url: str) -> None:
    started = json.loads(fetch("coder/api/login", method="POST", body="{}").body)
    params = consent_query(fake, started["authorization_url"])

    # When
    response = fetch("coder/api/cancel", method="POST", body="")

    # Then the state is refused afterwards
    assert response.code == 200
    assert json.loads(response.body)["status"] == "logged_out"
    assert fetch(CALLBACK, params=params).code == 400
    assert_logged_out(fake)


def test_logout_route_revokes_and_forgets(fake: FakeCoder, fetch: Fetch, callback_url: str) -> None:
    started = json.loads(fetch("coder/api/login", method="POST", body="{}").body)
    assert fetch(CALLBACK, params=consent_query(fake, started["authorization_url"])).code == 200

    # When
    response = fetch("coder/api/logout", method="POST", body="")

    # Then
    assert response.code == 200
    body = json.loads(response.body)
    assert body["status"] == "logged_out"
    assert body["logout"]["revoked"] == "ok" and body["logout"]["local_credentials"] == "ok"
    assert_logged_out(fake)


@pytest.mark.parametrize("route", ["status", "login", "logout", "cancel"])
def test_json_routes_require_a_jupyter_login(fake: FakeCoder, fetch: Fetch, route: str) -> None:
    method = "GET" if route == "status" else "POST"

    # When
    response = fetch("coder/api", route, method=method, body=None if method == "GET" else "{}",
                     headers={"Authorization": ""})

    # Then
    assert response.code == 403
    assert fake.request_counts() == {}


def _cookie_login(fetch: Fetch, token: str) -> tuple[str, str]:
    """Log in to Jupyter like a browser (token in the login form); return (cookie header, xsrf)."""
    page = fetch("login", headers={"Authorization": ""})
    cookies = {}
    for header in page.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    xsrf = cookies["_xsrf"]
    answer = fetch("login", method="POST", headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}"},
                   body=f"_xsrf={xsrf}&password={token}")
    assert answer.code == 302, answer.body
    for header in answer.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return "; ".join(f"{k}={v}" for k, v in cookies.items()), xsrf


@pytest.mark.parametrize("route", ["login", "logout", "cancel"])
def test_json_posts_from_a_browser_session_need_the_xsrf_token(
    fake: FakeCoder, fetch: Fetch, jp_serverapp: Any, route: str
) -> None:
    cookie, xsrf = _cookie_login(fetch, jp_serverapp.identity_provider.token)
    browser = {"Authorization": "", "Cookie": cookie}

    # When the cookie-authenticated POST lacks the XSRF header
    refused = fetch("coder/api", route, method="POST", body="{}", headers=browser)

    # Then it is refused; with the header it goes through
    assert refused.code == 403
    assert fake.request_counts() == {}
    accepted = fetch("coder/api", route, method="POST", body="{}", headers={**browser, "X-XSRFToken": xsrf})
    assert accepted.code == 200, accepted.body


# -- second-line defences (each test fails if the one defence it names is removed) ------------------


def anonymous_xsrf(fetch: Fetch) -> str:
    """What any visitor gets without logging in: an ``_xsrf`` cookie from Jupyter's login page."""
    page = fetch("login", headers={"Authorization": ""})
    for header in page.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "_xsrf":
            return rest.split(";", 1)[0]
    raise AssertionError("the login page set no _xsrf cookie")


@pytest.mark.parametrize("route", ["login", "logout", "cancel"])
def test_json_posts_without_a_jupyter_login_are_refused_even_with_a_valid_xsrf_pair(
    fake: FakeCoder, fetch: Fetch, route: str
) -> None:
    xsrf = anonymous_xsrf(fetch)

    # When a client with no Jupyter login sends a matching XSRF cookie and header
    response = fetch("coder/api", route, method="POST", body="{}",
                     headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf})

    # Then the route itself refuses it, and Coder never hears of it
    assert response.code == 403
    assert fake.request_counts() == {}


@pytest.mark.parametrize("shape", ["many_medium_parameters", "long_parameter_name"])
def test_a_callback_query_too_large_overall_is_refused_before_the_store_is_read(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str, shape: str
) -> None:
    started = auth.begin_login(callback_url)
    params = consent_query(fake, started.authorization_url)
    if shape == "many_medium_parameters":
        # each value is under the 4096-character limit; together they exceed 4 × 4096
        extra = {f"pad{i}": "A" * 4000 for i in range(5)}
    else:
        extra = {"N" * 100: "x"}

    # When
    response = fetch(CALLBACK, params={**params, **extra})

    # Then nothing was exchanged and the real callback still works
    assert response.code == 400
    assert "too long" in response.body.decode()
    assert fake.request_counts().get(("POST", "/oauth2/tokens"), 0) == 0
    assert fetch(CALLBACK, params=params).code == 200


@pytest.mark.parametrize("scheme", ["javascript", "ftp", "ws"])
def test_login_route_refuses_a_non_http_redirect_uri_with_this_servers_host_and_path(
    fake: FakeCoder, fetch: Fetch, jp_http_port: int, scheme: str
) -> None:
    redirect_uri = f"{scheme}://127.0.0.1:{jp_http_port}{BASE_URL}{CALLBACK}"

    # When
    response = fetch("coder/api/login", method="POST", body=json.dumps({"redirect_uri": redirect_uri}))

    # Then
    assert response.code == 400
    assert fake.request_counts() == {}


# -- issue 13: forged state-less cancel, fuzzed callback -------------------------------------------


def test_a_forged_stateless_cancel_is_refused_and_the_login_survives(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str
) -> None:
    started = auth.begin_login(callback_url)

    # When any web page sends the user's browser to the callback with error= and no state
    response = fetch(CALLBACK, params={"error": "access_denied", "error_description": "forged"})

    # Then it is refused like an unknown state, and the real login still completes
    assert response.code == 400
    text = assert_safe_page(response, "forged")
    assert "Login cancelled" not in text
    assert auth.status().status == "waiting"
    finished = fetch(CALLBACK, params=query_of(consent(fake, started.authorization_url)))
    assert finished.code == 200 and auth.status().status == "logged_in"


_PARAM = st.sampled_from(["code", "state", "error", "error_description", "error_uri", "iss", "x"])
_VALUE = st.text(max_size=40) | st.sampled_from(["access_denied", "<script>x</script>", "%00", "\u202e"])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(params=st.lists(st.tuples(_PARAM, _VALUE), max_size=5))
def test_the_callback_route_answers_any_query_with_a_safe_page(
    fake: FakeCoder, auth: AuthManager, fetch: Fetch, callback_url: str, params: list[tuple[str, str]]
) -> None:
    started = auth.begin_login(callback_url)
    # When the browser comes back with arbitrary parameters (some with the real state)
    query = [(k, started.state if k == "state" and v == "" else v) for k, v in params]
    response = fetch(CALLBACK, params=httpx.QueryParams(query))

    # Then the answer is one of the documented refusals, never a crash, never the secrets
    assert response.code in (200, 400, 403, 502), response.code
    assert_safe_page(response, started.state)
