"""G4 (today's Coder, the fake's default) OAuth provider: CODER_BEHAVIOR.md §11 items 31-50, 53, 56, 57
and the §12 negotiation table. Everything goes over real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fakehelpers import (
    CALLBACK,
    admin_client,
    authorize_params,
    authorize_with_header,
    code_from,
    csrf_of,
    enable_dcr,
    exchange,
    login,
    oauth_tokens,
    pkce_pair,
    register,
)

from coder_jupyter.testing import SCOPE_CATALOG, FakeCoder, fake_coder

PREFIXED_RE = re.compile(r"^coder_[a-z0-9]{10}_[a-z0-9]{40}$")
ACCESS = "coder:workspaces.access"


def query_of(response: httpx.Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["location"]).query)


def no_store(response: httpx.Response) -> bool:
    return (
        response.headers.get("cache-control") == "no-store" and response.headers.get("pragma") == "no-cache"
    )


def owner_headers(fake: FakeCoder) -> dict[str, str]:
    return {"Coder-Session-Token": fake.session_token}


# --------------------------------------------------------------------------- 31-33 DCR and metadata


def test_31_g4_is_the_default_generation() -> None:
    fake = FakeCoder()
    assert fake.describe_settings()["generation"] == "g4"
    assert fake.describe_settings()["dcr"] is False


@pytest.mark.coder_fake(oauth2=False)
def test_31_dcr_setting_reachable_while_provider_off(coder_fake: FakeCoder, http: httpx.Client) -> None:
    path = "/api/v2/oauth2-provider/settings"
    headers = owner_headers(coder_fake)
    fresh = http.get(path, headers=headers)
    assert fresh.status_code == 200
    assert fresh.json() == {"dynamic_client_registration_enabled": False}
    flipped = http.put(path, json={"dynamic_client_registration_enabled": True}, headers=headers)
    assert flipped.json() == {"dynamic_client_registration_enabled": True}
    unchanged = http.put(path, json={}, headers=headers)
    assert unchanged.status_code == 200
    assert unchanged.json() == {"dynamic_client_registration_enabled": True}
    assert http.get(path, headers=headers).json() == {"dynamic_client_registration_enabled": True}
    member = coder_fake.create_user("member")
    for method in ("GET", "PUT"):
        denied = http.request(
            method,
            path,
            json={"dynamic_client_registration_enabled": False},
            headers={"Coder-Session-Token": member.session_token},
        )
        assert denied.status_code == 403
        assert denied.json()["message"] == "Forbidden."
    assert http.get(path, headers=headers).json()["dynamic_client_registration_enabled"] is True


def test_32_dcr_off_refuses_registration_and_hides_the_endpoint(
    coder_fake: FakeCoder, http: httpx.Client
) -> None:
    refused = http.post("/oauth2/register", json={"redirect_uris": [CALLBACK]})
    assert refused.status_code == 403
    assert refused.json()["error"] == "invalid_request"
    assert "disabled" in refused.json()["error_description"]
    assert "registration_endpoint" not in http.get("/.well-known/oauth-authorization-server").json()
    enable_dcr(coder_fake)
    doc = http.get("/.well-known/oauth-authorization-server").json()
    assert doc["registration_endpoint"] == f"{coder_fake.url}/oauth2/register"
    assert register(http)["client_id"]


def test_33_metadata_values(coder_fake: FakeCoder, http: httpx.Client) -> None:
    for dcr in (False, True):
        coder_fake.set_dcr(dcr)
        doc = http.get("/.well-known/oauth-authorization-server").json()
        assert doc["token_endpoint_auth_methods_supported"] == [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ]
        assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
        assert "device_authorization_endpoint" not in doc
        catalog = doc["scopes_supported"]
        assert catalog == sorted(catalog) == list(SCOPE_CATALOG)
        assert http.get("/.well-known/oauth-protected-resource").json()["scopes_supported"] == catalog
        assert http.get("/api/v2/auth/scopes").json() == {"external": catalog}  # without a session
    for name in (
        "coder:all",
        ACCESS,
        "coder:workspaces.operate",
        "workspace:ssh",
        "user:read",
        "workspace:*",
    ):
        assert name in catalog
    assert "all" not in catalog and "organization_member:read" not in catalog


# --------------------------------------------------------------------------- 34 no-store


@pytest.mark.coder_fake(dcr=True)
def test_34_no_store_on_every_oauth2_response(coder_fake: FakeCoder, http: httpx.Client) -> None:
    headers = owner_headers(coder_fake)
    client = register(http)
    public = register(http, token_endpoint_auth_method="none")
    verifier, challenge = pkce_pair()
    responses: dict[str, httpx.Response] = {}
    responses["authorize 302"] = authorize_with_header(coder_fake, client, challenge)
    code = code_from(responses["authorize 302"])
    responses["tokens 200"] = exchange(http, client, code, verifier)
    tokens = responses["tokens 200"].json()
    responses["tokens 401"] = exchange(http, client, code, verifier, client_secret="coder_x_y")
    responses["consent 200"] = http.get(
        "/oauth2/authorize", params=authorize_params(client, challenge), headers=headers
    )
    assert responses["consent 200"].headers["content-type"].startswith("text/html")
    responses["error page 400"] = http.get(
        "/oauth2/authorize",
        params=authorize_params(client, challenge, redirect_uri="http://127.0.0.1:8888/other"),
        headers=headers,
    )
    responses["revoke 401"] = http.post(
        "/oauth2/revoke", data={"token": tokens["access_token"], "client_id": client["client_id"]}
    )
    responses["revoke 200"] = http.post(
        "/oauth2/revoke", data={"token": tokens["access_token"], "client_id": public["client_id"]}
    )
    responses["delete tokens 204"] = http.delete(
        "/oauth2/tokens", params={"client_id": client["client_id"]}, headers=headers
    )
    responses["register 201"] = http.post("/oauth2/register", json={"redirect_uris": [CALLBACK]})
    responses["register 400"] = http.post("/oauth2/register", json={"redirect_uris": ["javascript:x"]})
    config = f"/oauth2/clients/{client['client_id']}"
    bearer = {"Authorization": f"Bearer {client['registration_access_token']}"}
    responses["client GET 200"] = http.get(config, headers=bearer)
    responses["client PUT 200"] = http.put(config, json={"redirect_uris": [CALLBACK]}, headers=bearer)
    responses["client DELETE 204"] = http.delete(config, headers=bearer)
    responses["unmatched 404"] = http.get("/oauth2/does-not-exist")
    responses["unmatched POST"] = http.post("/oauth2/device/authorize")
    responses["apps GET"] = http.get("/api/v2/oauth2-provider/apps", headers=headers)
    app = admin_client(coder_fake)
    responses["secrets POST 201"] = http.post(
        f"/api/v2/oauth2-provider/apps/{app['client_id']}/secrets", headers=headers
    )
    responses["settings GET"] = http.get("/api/v2/oauth2-provider/settings", headers=headers)
    coder_fake.configure(form_body_limit=64)
    responses["tokens 413"] = http.post("/oauth2/tokens", data={"grant_type": "x" * 100})
    coder_fake.set_rate_limits(oauth2=1)
    http.post("/oauth2/revoke", data={"client_id": "x"})
    responses["revoke 429"] = http.post("/oauth2/revoke", data={"client_id": "x"})
    expected = {
        "authorize 302": 302,
        "tokens 200": 200,
        "tokens 401": 401,
        "consent 200": 200,
        "error page 400": 400,
        "revoke 401": 401,
        "revoke 200": 200,
        "delete tokens 204": 204,
        "register 201": 201,
        "register 400": 400,
        "client GET 200": 200,
        "client PUT 200": 200,
        "client DELETE 204": 204,
        "unmatched 404": 404,
        "unmatched POST": 404,
        "apps GET": 200,
        "secrets POST 201": 201,
        "settings GET": 200,
        "tokens 413": 413,
        "revoke 429": 429,
    }
    assert {name: r.status_code for name, r in responses.items()} == expected
    assert [name for name, r in responses.items() if not no_store(r)] == []


@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/any/suffix"],
)
def test_34_well_known_stays_cacheable(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    cache = response.headers.get("cache-control", "")
    assert not any(word in cache for word in ("no-store", "no-cache", "private", "max-age=0"))
    assert "pragma" not in response.headers


# --------------------------------------------------------------------------- 35-36 DCR clients


@pytest.mark.coder_fake(dcr=True)
def test_35_public_and_confidential_dcr_clients(coder_fake: FakeCoder, http: httpx.Client) -> None:
    public = register(http, token_endpoint_auth_method="none")
    assert "client_secret" not in public
    verifier, challenge = pkce_pair()
    code = code_from(authorize_with_header(coder_fake, public, challenge))
    assert exchange(http, public, code, verifier).status_code == 200
    confidential = register(http)
    assert PREFIXED_RE.match(confidential["client_secret"])
    code = code_from(authorize_with_header(coder_fake, confidential, challenge))
    without = exchange(http, {**confidential, "client_secret": ""}, code, verifier)
    assert without.status_code == 401
    assert without.json()["error"] == "invalid_client"


@pytest.mark.coder_fake(dcr=True)
def test_36_dcr_scope_allowlist(coder_fake: FakeCoder, http: httpx.Client) -> None:
    apps_before = len(coder_fake.state.apps)
    nothing = http.post("/oauth2/register", json={"redirect_uris": [CALLBACK], "scope": "openid email"})
    assert nothing.status_code == 400
    assert nothing.json()["error"] == "invalid_client_metadata"
    assert len(coder_fake.state.apps) == apps_before
    kept = register(http, scope="all workspace:read all openid")
    assert kept["scope"] == "coder:all workspace:read"
    config = http.get(
        f"/oauth2/clients/{kept['client_id']}",
        headers={"Authorization": f"Bearer {kept['registration_access_token']}"},
    )
    assert config.json()["scope"] == "coder:all workspace:read"
    too_many = " ".join(["workspace:read"] * 101)
    too_long = "workspace:read " + "x" * 4100
    for scope in (too_many, too_long):
        response = http.post("/oauth2/register", json={"redirect_uris": [CALLBACK], "scope": scope})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client_metadata"


# --------------------------------------------------------------------------- 37-39 authorize


def test_37_unknown_authorize_params_ignored_repeats_refused(
    coder_fake: FakeCoder, http: httpx.Client
) -> None:
    client = admin_client(coder_fake)
    _, challenge = pkce_pair()
    headers = owner_headers(coder_fake)
    extra = {"nonce": "x", "prompt": "login"}
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge, **extra), headers=headers)
    assert page.status_code == 200
    assert query_of(authorize_with_header(coder_fake, client, challenge, **extra))["state"] == ["st-123"]
    twice_state = http.post(
        "/oauth2/authorize",
        params=[*authorize_params(client, challenge).items(), ("state", "again")],
        headers=headers,
    )
    assert twice_state.status_code == 302
    assert query_of(twice_state)["error"] == ["invalid_request"]
    twice_client = http.get(
        "/oauth2/authorize",
        params=[*authorize_params(client, challenge).items(), ("client_id", client["client_id"])],
        headers=headers,
    )
    assert twice_client.status_code == 400
    assert "location" not in twice_client.headers


@pytest.mark.coder_fake(strict_authorize_params=True)
def test_37_strict_switch_refuses_unknown_params(coder_fake: FakeCoder) -> None:
    client = admin_client(coder_fake)
    _, challenge = pkce_pair()
    response = authorize_with_header(coder_fake, client, challenge, nonce="x")
    assert response.status_code == 302
    query = query_of(response)
    assert query["error"] == ["invalid_request"]
    assert "'nonce' is not a valid query param" in query["error_description"][0]  # '"' cleaned to "'"


def test_38_resource_errors(coder_fake: FakeCoder) -> None:
    client = admin_client(coder_fake)
    _, challenge = pkce_pair()
    only = authorize_with_header(coder_fake, client, challenge, resource="/relative")
    assert query_of(only)["error"] == ["invalid_target"]
    assert query_of(only)["error_description"] == [
        "Invalid query params: resource: must be an absolute URI without fragment"
    ]
    assert query_of(only)["state"] == ["st-123"]
    both = authorize_with_header(coder_fake, client, "", resource="/relative")
    query = query_of(both)
    assert query["error"] == ["invalid_request"]
    description = query["error_description"][0]
    assert description.startswith("Invalid query params: ")
    assert "code_challenge: " in description and "; resource: must be an absolute URI" in description
    empty_fragment = authorize_with_header(coder_fake, client, challenge, resource="https://x/#")
    assert "code" in query_of(empty_fragment)  # the quirk: an empty fragment passes


def test_39_consent_post_needs_no_csrf_token(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    verifier, challenge = pkce_pair()
    header_only = authorize_with_header(coder_fake, client, challenge)
    assert header_only.status_code == 302
    location = header_only.headers["location"]
    assert location.startswith(CALLBACK)
    assert query_of(header_only)["state"] == ["st-123"]
    assert exchange(http, client, code_from(header_only), verifier).status_code == 200
    login(http, coder_fake)
    params = authorize_params(client, challenge)
    for data in ({"csrf_token": "forged"}, {}):
        cookie_post = http.post("/oauth2/authorize", params=params, data=data)
        assert cookie_post.status_code == 302, cookie_post.text
        assert "code" in query_of(cookie_post)


# --------------------------------------------------------------------------- 40-42 scopes


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        (None, ACCESS),
        ("workspace:ssh", "workspace:ssh"),
        ("workspace:ssh template:read", "workspace:ssh template:read"),
        (ACCESS, ACCESS),
        (
            "template:update",
            '"template:update": scope requests permissions beyond this app\'s allowed scopes',
        ),
        ("workspace:*", '"workspace:*": scope requests permissions beyond this app\'s allowed scopes'),
        (
            "workspace:ssh workspace:delete",
            '"workspace:delete": scope requests permissions beyond this app\'s allowed scopes',
        ),
        ("openid", '"openid": unknown or unsupported scope'),
    ],
)
def test_40_scope_negotiation_table(
    coder_fake: FakeCoder, http: httpx.Client, requested: str | None, granted: str
) -> None:
    client = admin_client(coder_fake, scope=ACCESS)
    verifier, challenge = pkce_pair()
    extra = {"scope": requested} if requested is not None else {}
    response = authorize_with_header(coder_fake, client, challenge, **extra)
    assert response.status_code == 302
    query = query_of(response)
    assert query["state"] == ["st-123"]
    if granted.startswith('"'):
        assert query["error"] == ["invalid_scope"]
        # clean_description turns '"' into "'"
        assert query["error_description"] == [granted.replace('"', "'")]
        return
    tokens = exchange(http, client, query["code"][0], verifier).json()
    assert tokens["scope"] == granted


def test_40_no_allowlist_grants_all_and_ungrantable_allowlist(
    coder_fake: FakeCoder, http: httpx.Client
) -> None:
    assert oauth_tokens(coder_fake, http, admin_client(coder_fake))["scope"] == "coder:all"
    broken = admin_client(coder_fake, scope="openid profile")
    _, challenge = pkce_pair()
    query = query_of(authorize_with_header(coder_fake, broken, challenge))
    assert query["error"] == ["invalid_scope"]
    assert (
        "none of the scopes registered for this app are supported by this deployment"
        in (query["error_description"][0])
    )
    aliased = admin_client(coder_fake, scope="all")
    assert oauth_tokens(coder_fake, http, aliased, scope="application_connect")["scope"] == (
        "coder:application_connect"
    )


def test_41_consent_page(coder_fake: FakeCoder, http: httpx.Client) -> None:
    headers = owner_headers(coder_fake)
    _, challenge = pkce_pair()
    scoped = admin_client(coder_fake, scope=f"{ACCESS} user:read")
    page = http.get("/oauth2/authorize", params=authorize_params(scoped, challenge), headers=headers)
    assert page.status_code == 200
    assert f"<li>{ACCESS}</li>" in page.text and "<li>user:read</li>" in page.text
    assert "with these permissions?" in page.text and "full access" not in page.text
    forms = re.findall(r"<form[^>]*>", page.text)
    assert len(forms) == 1
    assert re.search(r"method=['\"]POST['\"]", forms[0], re.I) and "action" not in forms[0]
    assert csrf_of(page.text)
    href = re.search(r"id='cancel' href='([^']*)'", page.text)
    assert href
    assert href.group(1).replace("&amp;", "&") == (
        f"{CALLBACK}?error=access_denied&error_description=The+resource+owner+or+authorization+server"
        "+denied+the+request&state=st-123"
    )
    full = admin_client(coder_fake)
    page = http.get("/oauth2/authorize", params=authorize_params(full, challenge), headers=headers)
    assert f"Allow Notebook to have full access to your {coder_fake.username} account?" in page.text


def test_42_token_response_scope(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake, scope=ACCESS)
    assert oauth_tokens(coder_fake, http, client)["scope"] == ACCESS
    assert oauth_tokens(coder_fake, http, client, scope="workspace:ssh")["scope"] == "workspace:ssh"


# --------------------------------------------------------------------------- 44-47 token endpoint


def _refresh(http: httpx.Client, client: dict, refresh_token: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        **extra,
    }
    return http.post("/oauth2/tokens", data=data)


def test_44_refresh_narrows_but_never_widens(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake, scope=ACCESS)
    tokens = oauth_tokens(coder_fake, http, client)
    narrowed = _refresh(http, client, tokens["refresh_token"], scope="workspace:ssh")
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "workspace:ssh"
    refresh = narrowed.json()["refresh_token"]
    wider = _refresh(http, client, refresh, scope="template:update")
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"
    assert "beyond the scope originally granted" in wider.json()["error_description"]
    unknown = _refresh(http, client, refresh, scope="openid")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_scope"
    assert "unknown or unsupported scope" in unknown.json()["error_description"]
    restored = _refresh(http, client, refresh)  # the refused refreshes left it usable
    assert restored.status_code == 200
    assert restored.json()["scope"] == ACCESS


def test_45_allowlist_narrowed_before_redemption(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake, scope=ACCESS)
    earlier = oauth_tokens(coder_fake, http, client)
    verifier, challenge = pkce_pair()
    code = code_from(authorize_with_header(coder_fake, client, challenge, scope="workspace:ssh"))
    narrowed = http.put(
        f"/api/v2/oauth2-provider/apps/{client['client_id']}",
        json={"name": "Notebook", "scope": "template:read"},
        headers=owner_headers(coder_fake),
    )
    assert narrowed.status_code == 200
    keys_before = len(coder_fake.state.api_keys)
    refused = exchange(http, client, code, verifier)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    description = refused.json()["error_description"]
    assert "scope is no longer allowed by this app's registered scopes" in description
    assert "workspace:ssh" in description
    assert len(coder_fake.state.api_keys) == keys_before  # no access token minted
    assert _refresh(http, client, earlier["refresh_token"]).status_code == 200


def test_46_client_secret_in_the_query(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    verifier, challenge = pkce_pair()
    code = code_from(authorize_with_header(coder_fake, client, challenge))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": CALLBACK,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
    }
    in_query = http.post("/oauth2/tokens", params={"client_secret": "x"}, data=form)
    assert in_query.status_code == 400
    assert in_query.json()["error"] == "invalid_request"
    empty_and_body = http.post("/oauth2/tokens?client_secret=", data=form)
    assert empty_and_body.status_code == 400
    empty_only = http.post(
        "/oauth2/tokens?client_secret=",
        data={k: v for k, v in form.items() if k != "client_secret"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert empty_only.status_code == 200, empty_only.text
    revoke = http.post(
        "/oauth2/revoke",
        params={"client_secret": "x"},
        data={
            "token": empty_only.json()["access_token"],
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert revoke.status_code == 400
    assert revoke.json()["error"] == "invalid_request"


def test_47_repeated_unknown_and_unsupported_token_params(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    verifier, challenge = pkce_pair()
    code = code_from(authorize_with_header(coder_fake, client, challenge))
    base = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", CALLBACK),
        ("client_id", client["client_id"]),
        ("client_secret", client["client_secret"]),
    ]

    def post(pairs: list[tuple[str, str]]) -> httpx.Response:
        return http.post(
            "/oauth2/tokens",
            content=urlencode(pairs),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    repeated_code = post([*base, ("code", code)])
    assert (repeated_code.status_code, repeated_code.json()["error"]) == (400, "invalid_request")
    repeated_grant = post([*base, ("grant_type", "authorization_code")])
    assert (repeated_grant.status_code, repeated_grant.json()["error"]) == (400, "unsupported_grant_type")
    accepted = post([*base, ("nonce", "n"), ("client_assertion", "a")])
    assert accepted.status_code == 200, accepted.text
    for grant in ("urn:ietf:params:oauth:grant-type:device_code", "client_credentials"):
        response = http.post(
            "/oauth2/tokens",
            data={
                "grant_type": grant,
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
        )
        assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


# --------------------------------------------------------------------------- 48-50 limits, revoke


@pytest.mark.coder_fake(form_body_limit=1024)
def test_48_form_body_limit(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    big = {"grant_type": "authorization_code", "padding": "x" * 2000}
    for path in ("/oauth2/tokens", "/oauth2/revoke"):
        for params in ({}, {"client_id": client["client_id"]}):
            response = http.post(path, params=params, data=big)
            assert response.status_code == 413, (path, params)
            assert response.json()["error"] == "invalid_request"
            assert "1024" in response.json()["error_description"]
    small = http.post("/oauth2/tokens", data={"grant_type": "nope", "client_id": client["client_id"]})
    assert small.status_code == 400


def test_49_revoke_authenticates_confidential_clients(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    tokens = oauth_tokens(coder_fake, http, client)
    access = {"Coder-Session-Token": tokens["access_token"]}
    unauthenticated = http.post(
        "/oauth2/revoke", data={"token": tokens["access_token"], "client_id": client["client_id"]}
    )
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {
        "error": "invalid_client",
        "error_description": "The client credentials are invalid",
    }
    assert unauthenticated.headers["www-authenticate"] == 'Basic realm="coder"'
    assert http.get("/api/v2/users/me", headers=access).status_code == 200
    no_token = http.post("/oauth2/revoke", data={"client_id": client["client_id"]})
    assert no_token.status_code == 401  # client authentication runs before the token is examined
    with_basic = http.post(
        "/oauth2/revoke",
        data={"token": tokens["access_token"]},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert (with_basic.status_code, with_basic.content) == (200, b"")
    assert http.get("/api/v2/users/me", headers=access).status_code == 401
    second = oauth_tokens(coder_fake, http, client)
    with_form = http.post(
        "/oauth2/revoke",
        data={
            "token": second["refresh_token"],
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert (with_form.status_code, with_form.content) == (200, b"")
    assert (
        http.get("/api/v2/users/me", headers={"Coder-Session-Token": second["access_token"]}).status_code
        == 401
    )
    enable_dcr(coder_fake)
    public = register(http, token_endpoint_auth_method="none")
    verifier, challenge = pkce_pair()
    public_tokens = exchange(
        http, public, code_from(authorize_with_header(coder_fake, public, challenge)), verifier
    )
    by_id = http.post(
        "/oauth2/revoke",
        data={"token": public_tokens.json()["access_token"], "client_id": public["client_id"]},
    )
    assert by_id.status_code == 200
    assert http.get("/oauth2/revoke").status_code == 405


@pytest.mark.coder_fake(oauth2_rate_limit=3)
def test_50_oauth_rate_limit_per_endpoint(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    statuses = [
        http.post("/oauth2/tokens", data={"grant_type": "nope", "client_id": client["client_id"]}).status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 400]
    limited = http.post("/oauth2/tokens", data={"client_id": "00000000-0000-0000-0000-000000000000"})
    assert limited.status_code == 429
    body = limited.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["message"] == body["error_description"] and body["message"]
    for _ in range(5):
        assert http.get("/oauth2/junk").status_code == 404  # junk paths are not counted
        assert http.get("/oauth2/revoke").status_code == 405  # nor unrouted methods
    assert [http.post("/oauth2/revoke", data={"client_id": "bad"}).status_code for _ in range(3)] == [401] * 3
    assert http.get("/.well-known/oauth-authorization-server").status_code == 200
    for suffix in ("/a", "/b"):
        assert http.get(f"/.well-known/oauth-protected-resource{suffix}").status_code == 200
    assert http.get("/.well-known/oauth-protected-resource").status_code == 200
    assert http.get("/.well-known/oauth-protected-resource/c").status_code == 429  # one bucket per document
    member = coder_fake.create_user("member")
    for token, expected in ((coder_fake.session_token, [204, 204, 204, 429]), (member.session_token, [204])):
        got = [
            http.delete(
                "/oauth2/tokens",
                params={"client_id": client["client_id"]},
                headers={"Coder-Session-Token": token},
            ).status_code
            for _ in expected
        ]
        assert got == expected
    coder_fake.set_rate_limits(oauth2=None)  # the switch tests and benchmarks use
    assert (
        http.post("/oauth2/tokens", data={"grant_type": "nope", "client_id": client["client_id"]}).status_code
        == 400
    )


# --------------------------------------------------------------------------- 53, 56, 57


def test_53_code_is_single_use_under_concurrency(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = admin_client(coder_fake)
    verifier, challenge = pkce_pair()
    code = code_from(authorize_with_header(coder_fake, client, challenge))
    barrier = threading.Barrier(2)
    results: list[httpx.Response] = []

    def redeem() -> None:
        with httpx.Client(base_url=coder_fake.url, timeout=10) as own:
            barrier.wait()
            results.append(exchange(own, client, code, verifier))

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 400]
    winner = next(r for r in results if r.status_code == 200).json()
    assert next(r for r in results if r.status_code == 400).json()["error"] == "invalid_grant"
    replay = exchange(http, client, code, verifier)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert (
        http.get("/api/v2/users/me", headers={"Coder-Session-Token": winner["access_token"]}).status_code
        == 200
    )


def test_56_no_device_flow(coder_fake: FakeCoder, http: httpx.Client) -> None:
    assert http.post("/oauth2/device/authorize", data={"client_id": "x"}).status_code == 404
    assert http.get("/oauth2/device").status_code == 404
    assert http.get("/oauth2/device/verify").status_code == 404
    doc = http.get("/.well-known/oauth-authorization-server").json()
    assert "device_authorization_endpoint" not in doc
    assert not any("device" in g for g in doc["grant_types_supported"])


@pytest.mark.coder_fake(dcr=True)
def test_57_loopback_port_ignored_at_the_token_endpoint(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http, redirect_uris=["http://127.0.0.1/callback"], token_endpoint_auth_method="none")
    verifier, challenge = pkce_pair()
    params = authorize_params(client, challenge)
    del params["redirect_uri"]
    response = http.post(
        "/oauth2/authorize", params=params, headers={"Coder-Session-Token": coder_fake.session_token}
    )
    code = code_from(response)
    assert response.headers["location"].startswith("http://127.0.0.1/callback?")
    tokens = exchange(http, client, code, verifier, redirect_uri="http://127.0.0.1:53219/callback")
    assert tokens.status_code == 200, tokens.text


# --------------------------------------------------------------------------- switches for tests and demos


def test_31_command_starts_g4_with_dcr_off_unless_asked() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for flags, dcr in (([], False), (["--dcr"], True)):
        proc = subprocess.Popen(
            [sys.executable, "-m", "coder_jupyter.testing", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = json.loads(proc.stdout.readline())["url"]
            settings = httpx.get(f"{url}/__fake__/settings").json()
            assert (settings["generation"], settings["dcr"]) == ("g4", dcr)
            doc = httpx.get(f"{url}/.well-known/oauth-authorization-server").json()
            assert ("registration_endpoint" in doc) is dcr
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_31_control_api_knobs(coder_fake: FakeCoder, http: httpx.Client) -> None:
    changed = http.put(
        "/__fake__/settings",
        json={"dcr": True, "form_body_limit": 10, "strict_authorize_params": True, "oauth2_rate_limit": None},
    ).json()
    assert changed["generation"] == "g4"
    assert (changed["dcr"], changed["form_body_limit"], changed["strict_authorize_params"]) == (
        True,
        10,
        True,
    )
    assert changed["oauth2_rate_limit"] is None
    assert http.post("/oauth2/revoke", data={"token": "x" * 20}).status_code == 413
    assert http.put("/__fake__/settings", json={"generation": "g3"}).json()["generation"] == "g3"
    assert http.put("/__fake__/settings", json={"generation": "g4"}).json()["generation"] == "g4"


@pytest.mark.parametrize("generation", ["g1", "g2", "g3", "g4"])
def test_41_consent_helper_plays_the_browser_in_every_generation(generation: str) -> None:
    with fake_coder(generation=generation, dcr=True) as fake, httpx.Client(base_url=fake.url) as http:
        client = register(http)
        verifier, challenge = pkce_pair()
        url = str(httpx.URL(f"{fake.url}/oauth2/authorize", params=authorize_params(client, challenge)))
        location = fake.consent(url)
        code = parse_qs(urlsplit(location).query)["code"][0]
        assert exchange(http, client, code, verifier).status_code == 200
        denied = parse_qs(urlsplit(fake.consent(url, allow=False)).query)
        assert denied["error"] == ["access_denied"]
