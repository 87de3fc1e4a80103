"""Playing the user on the fake Coder's consent page over plain HTTP (no browser): one copy for
every integration test. Import with ``from oauthhelpers import ...`` (pytest puts this test
directory on sys.path)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder

#: A loopback redirect URI nobody listens on: the tests finish logins from the Location header.
REDIRECT = "http://127.0.0.1:8123/callback"


def consent(fake: FakeCoder, authorization_url: str, *, allow: bool = True) -> str:
    """Play the browser: open the consent page with the user's session, click Allow or Cancel;
    return where Coder sends the browser (the callback URL)."""
    cookies = {"coder_session_token": fake.session_token}
    with httpx.Client(cookies=cookies) as browser:
        page = browser.get(authorization_url)
        assert page.status_code == 200, page.text
        if not allow:
            return unescape(re.search(r"id='cancel' href='([^']*)'", page.text)[1])  # type: ignore[index]
        csrf = re.search(r"name='csrf_token' value='([^']*)'", page.text)
        action = unescape(re.search(r"<form method='post' action='([^']*)'", page.text)[1])  # type: ignore[index]
        form = {"csrf_token": unescape(csrf[1]) if csrf else ""}
        request = browser.build_request("POST", httpx.URL(authorization_url).join(action), data=form)
        # Sent on a bare transport: httpx's client would try to parse an urn: Location as a URL.
        with httpx.HTTPTransport() as transport:
            answer = transport.handle_request(request)
            answer.read()
        assert answer.status_code == 302, answer.text
        return str(answer.headers["Location"])


def query_of(url: str) -> dict[str, str]:
    """The decoded query of a callback URL (first value of each name)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def login_by_consent(fake: FakeCoder, **options: object) -> AuthManager:
    """A manager logged in with OAuth (begin, approve, finish); the fake's request log cleared."""
    auth = AuthManager(fake.url, **options)  # type: ignore[arg-type]
    auth.finish_login(consent(fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url))
    fake.clear_requests()
    return auth
