"""Least privilege against the fake Coder over real HTTP: the scope a login asks for, what is
granted and stored, every README call with the default scope, a narrowed login whose forbidden
call raises InsufficientScopeError, and a wider login that asks for consent again."""

from __future__ import annotations

import pytest
from oauthhelpers import REDIRECT, consent, query_of  # pytest puts this test directory on sys.path

from coder_jupyter._config import CoderConfig
from coder_jupyter._oauth.scopes import DEFAULT_SCOPES, describe
from coder_jupyter.client import Coder
from coder_jupyter.errors import ConfigurationError, InsufficientScopeError, NotFoundError, OAuthError
from coder_jupyter.testing import FakeCoder, fake_coder
from coder_jupyter.testing._scopes import SCOPE_CATALOG

NARROW = "coder:workspaces.access user:read"


def _login(fake: FakeCoder, coder: Coder, scopes: str | None = None) -> str:
    """Log ``coder`` in through the consent page; return the authorize request's ``scope``."""
    started = coder.auth.begin_login(REDIRECT, scopes=scopes)
    coder.auth.finish_login(consent(fake, started.authorization_url))
    return query_of(started.authorization_url).get("scope", "")


def test_the_fake_offers_every_default_scope() -> None:
    assert set(DEFAULT_SCOPES) <= set(SCOPE_CATALOG)


@pytest.mark.parametrize("generation", ["g4", "g3", "g1"])
def test_default_scopes_cover_every_call_the_readme_shows(generation: str) -> None:
    with fake_coder(generation=generation, dcr=True, workspaces=2, build_step_seconds=0.05) as fake, \
            Coder(fake.url) as coder:
        # When
        asked = _login(fake, coder)
        # Then the narrow default set is asked for and stored, never coder:all
        assert asked.split() == list(DEFAULT_SCOPES)
        status = coder.auth.status()
        assert status.scope is not None and "coder:all" not in status.scope
        if generation == "g4":
            assert set(status.scope) == set(DEFAULT_SCOPES)
        # And every README call works with it
        assert coder.me().username == fake.username
        assert coder.organizations()
        assert coder.templates()
        assert {w.name for w in coder.workspaces("owner:me")} == {"workspace-1", "workspace-2"}
        ws = coder.workspace("workspace-1")
        assert coder.stop(ws, progress=False).status == "stopped"
        assert coder.start("workspace-1", progress=False).status == "running"
        assert coder.restart("workspace-1", progress=False).status == "running"
        build = coder.create_workspace("scratch", template="docker", progress=False)
        assert build.status == "running"
        assert list(coder.build_logs(build))
        assert coder.delete("scratch", progress=False).status == "deleted"


def test_a_narrowed_login_raises_insufficient_scope_for_a_forbidden_call() -> None:
    with fake_coder(dcr=True, workspaces=1) as fake, Coder(fake.url) as coder:
        asked = _login(fake, coder, NARROW)
        assert asked == NARROW
        assert coder.auth.status().scope == tuple(NARROW.split())
        assert coder.workspace("workspace-1").name == "workspace-1"  # allowed: workspace:read
        # When
        with pytest.raises(InsufficientScopeError) as caught:
            coder.stop("workspace-1", progress=False)
        # Then it names the permission, the scope that grants it and the fix
        error = caught.value
        assert isinstance(error, PermissionError) and error.status == 403
        assert "workspace:stop" in error.permissions
        assert "coder:workspaces.operate" in error.scopes
        fix = '%coder login --scopes "coder:workspaces.access user:read coder:workspaces.operate"'
        assert fix in str(error)


def test_a_missing_read_scope_is_named_instead_of_not_found_or_an_empty_list() -> None:
    with fake_coder(dcr=True, workspaces=1) as fake, Coder(fake.url) as coder:
        _login(fake, coder, "workspace:read")
        # G4 answers 404 for users/me without user:read...
        with pytest.raises(InsufficientScopeError, match="user:read") as caught:
            coder.me()
        assert caught.value.status == 404
        # ...and an empty list for templates without template:read
        with pytest.raises(InsufficientScopeError, match="template:read"):
            coder.templates()
        # A real "not found" stays one when the scope covers the read
        with pytest.raises(NotFoundError) as real:
            coder.workspace("no-such-workspace")
        assert not isinstance(real.value, InsufficientScopeError)


def test_g3_tokens_are_never_blamed_on_their_scope() -> None:
    with fake_coder(generation="g3", dcr=True, workspaces=1) as fake, Coder(fake.url) as coder:
        _login(fake, coder, NARROW)
        # G3 stores the scope but does not enforce it: the call simply works.
        assert coder.stop("workspace-1", progress=False).status == "stopped"


def test_a_wider_login_asks_for_consent_again_and_updates_the_registration() -> None:
    with fake_coder(dcr=True, workspaces=1) as fake, Coder(fake.url) as coder:
        _login(fake, coder, NARROW)
        client_id = coder.auth.store.load_registration().client_id  # type: ignore[union-attr]
        # When a call needs more, and the user logs in with a wider scope
        wider = f"{NARROW} coder:workspaces.operate"
        fake.clear_requests()
        asked = _login(fake, coder, wider)
        # Then the registration's allowlist was updated in place (RFC 7592 PUT), not refused
        counts = fake.request_counts()
        assert counts["PUT", "/oauth2/clients/{client_id}"] == 1
        registration = coder.auth.store.load_registration()
        assert registration is not None and registration.client_id == client_id
        assert set(registration.scope.split()) == set(wider.split())  # type: ignore[union-attr]
        assert asked == wider
        assert coder.stop("workspace-1", progress=False).status == "stopped"


def test_scopes_come_from_the_configuration_and_unknown_names_are_dropped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CODER_OAUTH_SCOPES", "user:read, no:such-scope")
    with fake_coder(dcr=True) as fake, Coder(fake.url) as coder:
        asked = _login(fake, coder)
        assert asked == "user:read"
        assert "no:such-scope" in caplog.text
        assert coder.auth.status().scope == ("user:read",)
        # c.CoderConfig.scopes wins over the environment; "coder:all" is possible by choice
        config = CoderConfig(scopes=["coder:all"])
        with Coder(fake.url, config=config) as full:
            assert _login(fake, full) == "coder:all"
            assert full.auth.status().scope_summary == describe("coder:all")


def test_a_deployment_offering_none_of_the_wanted_scopes_is_a_clear_error() -> None:
    with fake_coder(dcr=True) as fake, Coder(fake.url) as coder, \
            pytest.raises(ConfigurationError, match="coder:all"):
        coder.auth.begin_login(REDIRECT, scopes="no:such-scope")


def test_the_granted_scope_survives_a_refresh() -> None:
    with fake_coder(dcr=True, access_token_ttl=3600) as fake, Coder(fake.url) as coder:
        _login(fake, coder, NARROW)
        before = coder.auth.credentials.current()
        assert before is not None
        # When the token is renewed
        after = coder.auth.credentials.refresh(before)
        # Then the record of the grant stays
        assert after.access_token != before.access_token
        assert coder.auth.status().scope == tuple(NARROW.split())


def test_an_admin_app_whose_allowlist_is_narrower_says_how_to_ask_for_less(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fake_coder() as fake:
        app = fake.create_oauth2_app("Jupyter", REDIRECT, scope="coder:workspaces.access user:read")
        monkeypatch.setenv("CODER_OAUTH_CLIENT_ID", app.client_id)
        monkeypatch.setenv("CODER_OAUTH_CLIENT_SECRET", app.client_secret)
        with Coder(fake.url) as coder:
            started = coder.auth.begin_login(REDIRECT)  # the defaults ask for more than the app may get
            with pytest.raises(OAuthError, match="invalid_scope") as caught:
                coder.auth.finish_login(consent(fake, started.authorization_url))
            assert "--scopes" in str(caught.value)
            # When the user asks for what the app allows
            assert _login(fake, coder, NARROW) == NARROW
            assert coder.me().username == fake.username
