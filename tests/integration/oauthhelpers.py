"""Playing the user on the fake Coder's consent page over plain HTTP (no browser): one copy for
every integration test. Import with ``from oauthhelpers import ...`` (pytest puts this test
directory on sys.path)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder

#: A loopback redirect URI nobody listens on: the tests finish logins from the Location header.
REDIRECT = "http://127.0.0.1:8123/callback"


def consent(fake: FakeCoder, authorization_url: str, *, allow: bool = True) -> str:
    """Play the browser: open the consent page with the user's session, click Allow or Cancel;
    return where Coder sends the browser (the callback URL). The fake's own helper does it the
    same way in every generation (G4's consent form has no ``action``)."""
    location = fake.consent(authorization_url, allow=allow)
    assert "code=" in location or "error=" in location, location
    return location


def query_of(url: str) -> dict[str, str]:
    """The decoded query of a callback URL (first value of each name)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def login_by_consent(fake: FakeCoder, **options: object) -> AuthManager:
    """A manager logged in with OAuth (begin, approve, finish); the fake's request log cleared."""
    auth = AuthManager(fake.url, **options)  # type: ignore[arg-type]
    auth.finish_login(consent(fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url))
    fake.clear_requests()
    return auth
