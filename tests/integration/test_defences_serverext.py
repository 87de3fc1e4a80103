"""Hostile requests to the server extension that the main serverext tests leave to a second,
redundant check: each test here fails if the one defence it names is removed.

* an unauthenticated client that fetched its own XSRF cookie (any visitor can: the login page
  hands one out) must still be refused by the JSON routes (``@web.authenticated``);
* a callback whose parameters are each short but add up to a huge query is refused (the total
  size limit), as is a callback with an absurdly long parameter *name*;
* ``redirect_uri`` must be http(s), even with this server's host and callback path.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 -- module-local pytest-jupyter fixtures
from tornado.httpclient import HTTPResponse

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder, fake_coder

BASE_URL = "/user/alice/"
CALLBACK = "coder/oauth/callback"

Fetch = Callable[..., HTTPResponse]


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"coder_jupyter": True}}}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCoder]:
    with fake_coder(oauth2_rate_limit=None, api_rate_limit=None) as deployment:
        monkeypatch.setenv("CODER_URL", deployment.url)
        yield deployment


@pytest.fixture
def fetch(jp_fetch: Any, jp_asyncio_loop: Any) -> Fetch:
    """``fetch("coder/api/status")`` → the response, whatever its status (no exception on 4xx)."""
    asyncio.set_event_loop(jp_asyncio_loop)

    def run(*parts: str, **kwargs: Any) -> HTTPResponse:
        kwargs.setdefault("raise_error", False)
        kwargs.setdefault("follow_redirects", False)
        response: HTTPResponse = jp_asyncio_loop.run_until_complete(jp_fetch(*parts, **kwargs))
        return response

    return run


@pytest.fixture
def callback_url(jp_http_port: int) -> str:
    return f"http://127.0.0.1:{jp_http_port}{BASE_URL}{CALLBACK}"


@pytest.fixture
def auth(fake: FakeCoder) -> Iterator[AuthManager]:
    manager = AuthManager(fake.url)
    yield manager
    manager.cancel_login()


def consent(fake: FakeCoder, authorization_url: str) -> dict[str, str]:
    """Approve on the fake's consent page; return the callback's query parameters."""
    with httpx.Client(cookies={"coder_session_token": fake.session_token}, follow_redirects=False) as browser:
        page = browser.get(authorization_url)
        action = re.search(r"<form method='post' action='([^']*)'", page.text)
        csrf = re.search(r"name='csrf_token' value='([^']*)'", page.text)
        assert action and csrf, page.text
        answer = browser.post(urljoin(authorization_url, html.unescape(action.group(1))),
                              data={"csrf_token": html.unescape(csrf.group(1))})
        assert answer.status_code == 302, answer.text
    return dict(parse_qsl(urlsplit(answer.headers["location"]).query))


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
    params = consent(fake, started.authorization_url)
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
