"""OAuth flows stepped by hand with next()/send(): no sockets."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, TypeVar

import httpx
import pytest

from coder_jupyter import _flows as flows
from coder_jupyter._oauth.models import AuthServerMetadata, ClientRegistration, TokenSet
from coder_jupyter.errors import AuthenticationError, InvalidGrantError, RegistrationUnavailableError

T = TypeVar("T")
BASE = "https://coder.example.com"
META = AuthServerMetadata(
    issuer=BASE,
    authorization_endpoint=f"{BASE}/oauth2/authorize",
    token_endpoint=f"{BASE}/oauth2/tokens",
    revocation_endpoint=f"{BASE}/oauth2/revoke",
    registration_endpoint=f"{BASE}/oauth2/register",
    token_endpoint_auth_methods_supported=("client_secret_basic", "client_secret_post", "none"),
)
CACHED = ClientRegistration(
    client_id="cid",
    client_secret=None,
    token_endpoint_auth_method="none",
    redirect_uris=("http://127.0.0.1/callback",),
    registration_access_token="rat",
    registration_client_uri=f"{BASE}/oauth2/clients/cid",
)


def run(
    flow: Generator[httpx.Request, httpx.Response, T], answers: list[tuple[int, Any]]
) -> tuple[T, list[httpx.Request]]:
    """Step a flow, answering each request in turn; return its result and the requests seen."""
    seen: list[httpx.Request] = []
    try:
        request = next(flow)
        for status, doc in answers:
            seen.append(request)
            content = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            request = flow.send(httpx.Response(status, content=content, request=request))
    except StopIteration as stop:
        return stop.value, seen
    raise AssertionError(f"flow still wants {request.method} {request.url}")


def test_discover_gets_the_well_known_document() -> None:
    doc = META.to_json()
    meta, seen = run(flows.discover(BASE), [(200, doc)])
    assert meta == META
    assert str(seen[0].url) == f"{BASE}/.well-known/oauth-authorization-server"


def test_register_posts_json_to_the_absolute_endpoint_and_prefers_public() -> None:
    answer = {
        "client_id": "new",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none",
    }
    reg, seen = run(
        flows.register(META, redirect_uris=("http://127.0.0.1/callback",), deployment_url=BASE),
        [(201, answer)],
    )
    assert reg.client_id == "new" and reg.client_secret is None
    sent = json.loads(seen[0].content)
    assert str(seen[0].url) == META.registration_endpoint and sent["token_endpoint_auth_method"] == "none"


def test_register_without_endpoint_names_the_fix_without_a_request() -> None:
    meta = AuthServerMetadata(
        issuer=BASE, authorization_endpoint=META.authorization_endpoint, token_endpoint=META.token_endpoint
    )
    flow = flows.register(meta, redirect_uris=("x",), deployment_url=BASE)
    with pytest.raises(RegistrationUnavailableError, match="CODER_OAUTH_CLIENT_ID"):
        next(flow)


def test_cached_registration_is_checked_and_reused() -> None:
    reg, seen = run(
        flows.ensure_registration(
            META, CACHED, redirect_uri="http://127.0.0.1/callback", deployment_url=BASE
        ),
        [(200, {"client_id": "cid", "redirect_uris": ["http://127.0.0.1/callback"]})],
    )
    assert reg.client_id == "cid" and [r.method for r in seen] == ["GET"]
    assert seen[0].headers["Authorization"] == "Bearer rat"


def test_new_redirect_uri_is_added_with_rfc7592_put() -> None:
    new_uri = "https://hub.example.com/user/a/coder/oauth/callback"
    answers = [
        (200, {"client_id": "cid", "redirect_uris": list(CACHED.redirect_uris)}),
        (200, {"client_id": "cid", "redirect_uris": [*CACHED.redirect_uris, new_uri]}),
    ]
    reg, seen = run(
        flows.ensure_registration(META, CACHED, redirect_uri=new_uri, deployment_url=BASE), answers
    )
    assert [r.method for r in seen] == ["GET", "PUT"]
    assert json.loads(seen[1].content)["redirect_uris"] == [*CACHED.redirect_uris, new_uri]
    assert reg.registration_access_token == "rat"


def test_forgotten_client_is_registered_again() -> None:
    answers = [
        (401, {"error": "invalid_token", "error_description": "Client not found"}),
        (201, {"client_id": "fresh", "redirect_uris": ["http://127.0.0.1/callback"]}),
    ]
    reg, seen = run(
        flows.ensure_registration(
            META, CACHED, redirect_uri="http://127.0.0.1/callback", deployment_url=BASE
        ),
        answers,
    )
    assert reg.client_id == "fresh" and [r.method for r in seen] == ["GET", "POST"]


def test_refused_update_falls_back_to_a_new_registration() -> None:
    answers = [
        (200, {"client_id": "cid", "redirect_uris": ["http://127.0.0.1/callback"]}),
        (400, {"error": "invalid_client_metadata"}),
        (201, {"client_id": "fresh", "redirect_uris": ["https://h/cb"]}),
    ]
    reg, _ = run(
        flows.ensure_registration(META, CACHED, redirect_uri="https://h/cb", deployment_url=BASE), answers
    )
    assert reg.client_id == "fresh"


def test_preregistered_client_is_used_as_is() -> None:
    pre = flows.preregistered_client(META, "admin-made", "shh")
    assert pre.token_endpoint_auth_method == "client_secret_basic" and not pre.dynamic
    reg, seen = run(
        flows.ensure_registration(META, pre, redirect_uri="https://x/cb", deployment_url=BASE), []
    )
    assert reg is pre and seen == []
    assert flows.preregistered_client(META, "public").token_endpoint_auth_method == "none"


def test_refresh_posts_the_refresh_grant_and_adopts_rotation() -> None:
    old = TokenSet(access_token="a1", refresh_token="r1", expires_at=0.0)
    new, seen = run(
        flows.refresh(META, CACHED, old, clock=lambda: 50.0),
        [(200, {"access_token": "a2", "refresh_token": "r2", "token_type": "Bearer", "expires_in": 10})],
    )
    assert (new.access_token, new.refresh_token, new.expires_at) == ("a2", "r2", 60.0)
    form = dict(httpx.QueryParams(seen[0].content.decode()))
    assert form == {"grant_type": "refresh_token", "refresh_token": "r1", "client_id": "cid"}


def test_refresh_invalid_grant_raises() -> None:
    old = TokenSet(access_token="a1", refresh_token="r1")
    with pytest.raises(InvalidGrantError):
        run(flows.refresh(META, CACHED, old), [(400, {"error": "invalid_grant"})])


def test_revoke_app_uses_the_users_session_and_fetch_user_maps_401() -> None:
    _, seen = run(flows.revoke_app(BASE, "cid", "tok"), [(204, b"")])
    assert seen[0].method == "DELETE" and seen[0].url.params["client_id"] == "cid"
    assert seen[0].headers["Coder-Session-Token"] == "tok"
    with pytest.raises(AuthenticationError):
        run(flows.fetch_user(BASE, "tok"), [(401, {"message": "You are signed out"})])
