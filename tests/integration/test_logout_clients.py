"""Logout ends the session on Coder for every kind of OAuth client — DCR public, DCR
confidential, an admin's pre-registered app — even when the access token has already expired.
Each test proves it on the fake: a refresh with the old refresh token gets ``invalid_grant``."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from oauthhelpers import REDIRECT, consent

from coder_jupyter._login import AuthManager
from coder_jupyter._oauth.models import TokenSet
from coder_jupyter.testing import FakeCoder, fake_coder

TTL = 3600.0


class Clock:
    """Our side's clock, moved with the fake's so both agree the access token expired."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _refresh_status(fake: FakeCoder, tokens: TokenSet, secret: str | None) -> tuple[int, str]:
    """Play the client: try the refresh token once; return the status and the OAuth error."""
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token or "",
            "client_id": tokens.client_id or ""}
    if secret:
        form["client_secret"] = secret
    response = httpx.post(f"{fake.url}/oauth2/tokens", data=form)
    return response.status_code, (response.json() or {}).get("error", "") if response.content else ""


def _login_and_expire(fake: FakeCoder, auth: AuthManager, clock: Clock) -> TokenSet:
    started = auth.begin_login(REDIRECT)
    auth.finish_login(consent(fake, started.authorization_url))
    tokens = auth.credentials.current()
    assert tokens is not None and tokens.refresh_token
    fake.advance(TTL + 5)
    clock.offset += TTL + 5
    assert tokens.expires_within(0, now=clock())
    assert httpx.get(f"{fake.url}/api/v2/users/me",
                     headers={"Coder-Session-Token": tokens.access_token}).status_code == 401
    fake.clear_requests()
    return tokens


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_logout_of_a_dynamically_registered_client_revokes_with_an_expired_access_token(kind: str) -> None:
    with fake_coder(dcr=True, access_token_ttl=TTL) as fake:
        clock = Clock()
        auth = AuthManager(fake.url, clock=clock)
        if kind == "confidential":  # discovery without "none": a confidential registration
            meta = auth.engine.metadata()
            auth.store.save_metadata(replace(meta, token_endpoint_auth_methods_supported=(
                "client_secret_basic",)), now=clock())
            auth = AuthManager(fake.url, clock=clock)
        tokens = _login_and_expire(fake, auth, clock)
        registration = auth.store.load_registration()
        assert registration is not None
        assert (registration.client_secret is None) == (kind == "public")
        # When
        report = auth.logout()
        # Then RFC 7009 was used with the client's own authentication, refresh token first
        assert (report.revoked, report.local_credentials) == ("ok", "ok"), report
        assert "refresh token" in report.revoked_detail and f"{kind} client" in report.revoked_detail
        counts = fake.request_counts()
        assert counts["POST", "/oauth2/revoke"] == 1
        assert counts["DELETE", "/oauth2/tokens"] == 0
        assert _refresh_status(fake, tokens, registration.client_secret) == (400, "invalid_grant")


@pytest.mark.parametrize("generation", ["g4", "g3"])
def test_logout_of_a_preregistered_app_revokes_with_an_expired_access_token(
    generation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_coder(generation=generation, dcr=False, access_token_ttl=TTL) as fake:
        app = fake.create_oauth2_app("Jupyter", REDIRECT)
        monkeypatch.setenv("CODER_OAUTH_CLIENT_ID", app.client_id)
        monkeypatch.setenv("CODER_OAUTH_CLIENT_SECRET", app.client_secret)
        clock = Clock()
        auth = AuthManager(fake.url, clock=clock)
        tokens = _login_and_expire(fake, auth, clock)
        # When
        report = auth.logout()
        # Then (the bug was: DELETE with the expired access token, "no revocation endpoint")
        assert report.revoked == "ok", report
        assert "pre-registered" in report.revoked_detail and "confidential client" in report.revoked_detail
        assert fake.request_counts()["POST", "/oauth2/revoke"] == 1
        assert _refresh_status(fake, tokens, app.client_secret) == (400, "invalid_grant")


def test_a_preregistered_app_refreshes_its_own_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_coder(dcr=False, access_token_ttl=TTL) as fake:
        app = fake.create_oauth2_app("Jupyter", REDIRECT)
        monkeypatch.setenv("CODER_OAUTH_CLIENT_ID", app.client_id)
        monkeypatch.setenv("CODER_OAUTH_CLIENT_SECRET", app.client_secret)
        clock = Clock()
        auth = AuthManager(fake.url, clock=clock)
        before = _login_and_expire(fake, auth, clock)
        # When the expired session is used, it renews with the admin's app (no stored registration)
        assert auth.status(check=True).status == "logged_in"
        after = auth.credentials.current()
        assert after is not None and after.access_token != before.access_token


def test_without_a_revocation_endpoint_logout_deletes_the_apps_tokens() -> None:
    with fake_coder(dcr=True, access_token_ttl=TTL) as fake:
        clock = Clock()
        tokens = _login_and_expire(fake, AuthManager(fake.url, clock=clock), clock)
        # A deployment that advertises no RFC 7009 endpoint (its cached discovery says so)
        auth = AuthManager(fake.url, clock=clock)
        meta = auth.store.load_metadata()
        assert meta is not None
        auth.store.save_metadata(replace(meta, revocation_endpoint=None), now=clock())
        registration = auth.store.load_registration()
        assert registration is not None
        # When
        report = auth.logout()
        # Then the expired access token was renewed first, then Coder's DELETE ended the grant
        assert report.revoked == "ok", report
        assert "no revocation endpoint" in report.revoked_detail
        counts = fake.request_counts()
        assert counts["DELETE", "/oauth2/tokens"] == 1 and counts["POST", "/oauth2/revoke"] == 0
        assert _refresh_status(fake, tokens, registration.client_secret)[1] == "invalid_grant"
