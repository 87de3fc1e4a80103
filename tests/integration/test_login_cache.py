"""Fewer round trips: discovery and registration are cached across processes (the store), with a
lifetime and invalidation on failure, so a repeat login sends only what it must before the
consent page opens."""

from __future__ import annotations

import time

import httpx
import pytest
from oauthhelpers import REDIRECT, consent

from coder_jupyter._engine import METADATA_TTL
from coder_jupyter._login import AuthManager
from coder_jupyter.errors import RegistrationUnavailableError
from coder_jupyter.testing import FakeCoder, fake_coder

DISCOVERY = ("GET", "/.well-known/oauth-authorization-server")
READ = ("GET", "/oauth2/clients/{client_id}")


def _begin(fake: FakeCoder, **options: object) -> list[tuple[str, str]]:
    """Begin a login in a new manager (a new kernel); the requests it sent."""
    fake.clear_requests()
    AuthManager(fake.url, **options).begin_login(REDIRECT)  # type: ignore[arg-type]
    return [(r.method, r.route) for r in fake.requests]


def test_a_repeat_login_only_checks_that_the_stored_client_still_exists() -> None:
    with fake_coder(dcr=True) as fake:
        assert _begin(fake) == [DISCOVERY, ("POST", "/oauth2/register")]
        assert _begin(fake) == [READ]


def test_cached_discovery_expires() -> None:
    with fake_coder(dcr=True) as fake:
        _begin(fake)
        later = time.time() + METADATA_TTL + 1
        assert _begin(fake, clock=lambda: later) == [DISCOVERY, READ]


def test_a_stale_discovery_is_refreshed_when_registration_fails() -> None:
    with fake_coder() as fake:  # DCR off: discovery without registration_endpoint is cached
        with pytest.raises(RegistrationUnavailableError, match="dcr enable"):
            _begin(fake)
        # When the admin turns DCR on within the cache's lifetime
        fake.set_dcr(True)
        requests = _begin(fake)
        # Then the login discovers again and registers, instead of repeating the refusal
        assert requests == [DISCOVERY, ("POST", "/oauth2/register")]


def test_a_client_the_server_forgot_is_registered_again() -> None:
    with fake_coder(dcr=True) as fake:
        _begin(fake)
        old = AuthManager(fake.url).store.load_registration()
        assert old is not None and old.registration_client_uri
        httpx.delete(old.registration_client_uri,
                     headers={"Authorization": f"Bearer {old.registration_access_token}"})
        # When
        assert _begin(fake) == [READ, ("POST", "/oauth2/register")]
        # Then the login works with the new client
        auth = AuthManager(fake.url)
        started = auth.begin_login(REDIRECT)
        assert auth.finish_login(consent(fake, started.authorization_url)).status == "logged_in"
