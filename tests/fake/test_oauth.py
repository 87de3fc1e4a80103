"""OAuth2 provider behaviour of the fake: CODER_BEHAVIOR.md §11 items 1-22 and generation switches."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fakehelpers import (
    CALLBACK,
    authorize_params,
    csrf_of,
    exchange,
    get_code,
    login,
    pkce_pair,
    register,
    tokens_for,
)

from coder_jupyter.testing import FakeCoder

#: These tests describe the G3 provider (items 1-30); G4 (the default) has its own module.
pytestmark = pytest.mark.coder_fake(generation="g3")

ACCESS_RE = re.compile(r"^[A-Za-z0-9]{10}-[A-Za-z0-9]{22}$")
PREFIXED_RE = re.compile(r"^coder_[a-z0-9]{10}_[a-z0-9]{40}$")
GATED = [
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/oauth-protected-resource"),
    ("GET", "/oauth2/authorize"),
    ("POST", "/oauth2/tokens"),
    ("POST", "/oauth2/revoke"),
    ("POST", "/oauth2/register"),
    ("GET", "/api/v2/oauth2-provider/apps"),
]


def query_of(response: httpx.Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["location"]).query)


# --------------------------------------------------------------------------- §11.1 gate


@pytest.mark.coder_fake(oauth2=False)
def test_1_gate_off_answers_route_not_found(coder_fake: FakeCoder, api: httpx.Client) -> None:
    for method, path in GATED:
        response = api.request(method, path)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Route not found."}
    settings = api.get("/api/v2/oauth2-provider/settings")
    assert settings.status_code == 200
    assert api.put(
        "/api/v2/oauth2-provider/settings", json={"dynamic_client_registration_enabled": True}
    ).is_success


@pytest.mark.coder_fake(oauth2=False, generation="g1")
def test_1_gate_off_g1_answers_experiment_403(api: httpx.Client) -> None:
    for method, path in GATED:
        response = api.request(method, path)
        assert response.status_code == 403, path
        assert response.json()["message"].endswith("requires enabling the 'oauth2' experiment.")


def test_1_gate_toggle_keeps_issued_tokens(coder_fake: FakeCoder, http: httpx.Client) -> None:
    _, tokens = tokens_for(http, coder_fake)
    coder_fake.set_oauth2(False)
    assert _me(http, tokens["access_token"]) == 200
    refresh = http.post("/oauth2/tokens", data={"grant_type": "refresh_token"})
    assert refresh.status_code == 404


# --------------------------------------------------------------------------- §11.2-4 discovery


@pytest.mark.parametrize("suffix", ["", "/anything/below"])
def test_2_authorization_server_metadata(coder_fake: FakeCoder, http: httpx.Client, suffix: str) -> None:
    doc = http.get(f"/.well-known/oauth-authorization-server{suffix}").json()
    base = coder_fake.url
    assert doc["issuer"] == base
    assert doc["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth2/tokens"
    assert doc["revocation_endpoint"] == f"{base}/oauth2/revoke"
    assert doc["response_types_supported"] == ["code"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "coder:all" in doc["scopes_supported"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]


def test_3_registration_endpoint_only_with_dcr(coder_fake: FakeCoder, http: httpx.Client) -> None:
    path = "/.well-known/oauth-authorization-server"
    assert http.get(path).json()["registration_endpoint"] == f"{coder_fake.url}/oauth2/register"
    coder_fake.set_dcr(False)
    assert "registration_endpoint" not in http.get(path).json()
    assert http.post("/oauth2/register", json={"redirect_uris": [CALLBACK]}).status_code == 403


def test_3_dcr_setting_via_admin_api(coder_fake: FakeCoder, http: httpx.Client, api: httpx.Client) -> None:
    assert api.put(
        "/api/v2/oauth2-provider/settings", json={"dynamic_client_registration_enabled": False}
    ).is_success
    assert api.get("/api/v2/oauth2-provider/settings").json() == {
        "dynamic_client_registration_enabled": False
    }
    assert "registration_endpoint" not in http.get("/.well-known/oauth-authorization-server").json()


def test_4_protected_resource_metadata(coder_fake: FakeCoder, http: httpx.Client) -> None:
    doc = http.get("/.well-known/oauth-protected-resource").json()
    assert doc["resource"] == coder_fake.url
    assert doc["authorization_servers"] == [coder_fake.url]
    assert "coder:all" in doc["scopes_supported"]
    assert doc["bearer_methods_supported"] == ["header", "query"]


# --------------------------------------------------------------------------- §11.5-7 DCR


def test_5_register_confidential_and_public(coder_fake: FakeCoder, http: httpx.Client) -> None:
    conf = register(http)
    uuid.UUID(conf["client_id"])
    assert PREFIXED_RE.match(conf["client_secret"])
    assert conf["registration_access_token"]
    assert conf["registration_client_uri"] == f"{coder_fake.url}/oauth2/clients/{conf['client_id']}"
    assert conf["grant_types"] == ["authorization_code", "refresh_token"]
    assert conf["token_endpoint_auth_method"] == "client_secret_basic"
    assert "client_secret_expires_at" not in conf
    public = register(http, token_endpoint_auth_method="none")
    assert "client_secret" not in public
    assert public["token_endpoint_auth_method"] == "none"
    named = register(http, client_name="")
    assert named["client_name"] == "Client (127.0.0.1)"


@pytest.mark.parametrize(
    ("uris", "fragment"),
    [
        (["http://example.com/cb"], "must use https scheme for non-localhost URLs"),
        (["javascript:alert(1)"], "dangerous scheme javascript"),
        (["https://example.com/cb#frag"], "fragment"),
        (["com.example.app:callback"], "host or a path"),
        (["urn:other:thing"], "URN"),
        ([f"http://127.0.0.1:{i}/cb" for i in range(33)], "maximum of 32"),
        ([], "at least one"),
    ],
)
def test_6_registration_validation(http: httpx.Client, uris: list[str], fragment: str) -> None:
    response = http.post("/oauth2/register", json={"redirect_uris": uris})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_client_metadata"
    assert fragment in body["error_description"]


def test_6_registration_accepts_loopback_custom_and_oob(http: httpx.Client) -> None:
    for uri in [
        "http://localhost/cb",
        "http://[::1]:9/cb",
        "vscode://coder/cb",
        "com.example.app:/cb",
        "urn:ietf:wg:oauth:2.0:oob",
        "http://dev.localhost/cb",
    ]:
        assert http.post("/oauth2/register", json={"redirect_uris": [uri]}).status_code == 201, uri
    public = http.post(
        "/oauth2/register",
        json={"redirect_uris": ["http://dev.localhost/cb"], "token_endpoint_auth_method": "none"},
    )
    assert public.status_code == 400  # public clients: only the three loopback names


def test_6_registration_bad_json(http: httpx.Client) -> None:
    response = http.post("/oauth2/register", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "Request body must be valid JSON."


def test_7_client_configuration(http: httpx.Client) -> None:
    client = register(http)
    url = f"/oauth2/clients/{client['client_id']}"
    auth = {"Authorization": f"Bearer {client['registration_access_token']}"}
    got = http.get(url, headers=auth)
    assert got.status_code == 200
    assert "client_secret" not in got.json()
    assert "registration_access_token" not in got.json()
    put = http.put(
        url, headers=auth, json={"redirect_uris": ["http://localhost/new"], "client_name": "Renamed"}
    )
    assert put.status_code == 200
    assert put.json()["client_name"] == "Renamed"
    switch = http.put(
        url, headers=auth, json={"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"}
    )
    assert switch.json()["error"] == "invalid_client_metadata"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer wrong"}).json()["error"] == "invalid_token"
    assert http.get("/oauth2/clients/not-a-uuid", headers=auth).json()["error"] == "invalid_client_id"
    assert http.get(f"/oauth2/clients/{uuid.uuid4()}", headers=auth).status_code == 401
    assert http.delete(url, headers=auth).status_code == 204
    assert http.get(url, headers=auth).status_code == 401


def test_7_client_configuration_forbidden_for_admin_apps(coder_fake: FakeCoder, http: httpx.Client) -> None:
    app = coder_fake.create_oauth2_app("Pre", CALLBACK)
    response = http.get(f"/oauth2/clients/{app.client_id}", headers={"Authorization": "Bearer x"})
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_token"


# --------------------------------------------------------------------------- §11.8-15 authorize


def test_8_client_lookup_before_login(http: httpx.Client) -> None:
    missing = http.get("/oauth2/authorize", params={"response_type": "code"})
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_request", "error_description": "Missing client_id parameter"}
    for client_id in ["not-a-uuid", str(uuid.uuid4())]:
        bad = http.get("/oauth2/authorize", params={"client_id": client_id})
        assert bad.status_code == 401
        assert bad.json()["error"] == "invalid_client"


def test_9_no_session_redirects_to_login(http: httpx.Client) -> None:
    client = register(http)
    _, challenge = pkce_pair()
    response = http.get("/oauth2/authorize", params=authorize_params(client, challenge))
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    query = parse_qs(location.query)
    assert "signed out" in query["message"][0]
    assert query["redirect"][0].startswith("/oauth2/authorize?")
    assert f"client_id={client['client_id']}" in query["redirect"][0]


def test_10_redirect_uri_must_match(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    _, challenge = pkce_pair()
    for bad in [
        "http://127.0.0.1:8888/other",
        "https://evil.example/callback",
        "http://127.0.0.1.evil/callback",
    ]:
        response = http.get("/oauth2/authorize", params=authorize_params(client, challenge, redirect_uri=bad))
        assert response.status_code == 400, bad
        assert "location" not in response.headers
    other_port = authorize_params(client, challenge, redirect_uri="http://127.0.0.1:9999/callback")
    assert http.get("/oauth2/authorize", params=other_port).status_code == 200  # loopback: port ignored
    no_redirect = authorize_params(client, challenge)
    del no_redirect["redirect_uri"]
    assert http.get("/oauth2/authorize", params=no_redirect).status_code == 200  # first registered URI


def test_11_pkce_required_and_plain_rejected(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    _, challenge = pkce_pair()
    params = authorize_params(client, challenge)
    del params["code_challenge"]
    missing = http.get("/oauth2/authorize", params=params)
    assert missing.status_code == 302
    assert query_of(missing)["error"] == ["invalid_request"]
    assert "code_challenge" in query_of(missing)["error_description"][0]
    short = http.get("/oauth2/authorize", params=authorize_params(client, "short"))
    assert query_of(short)["error"] == ["invalid_request"]
    plain = http.get(
        "/oauth2/authorize", params=authorize_params(client, challenge, code_challenge_method="plain")
    )
    assert query_of(plain)["error"] == ["invalid_request"]
    assert "plain" in query_of(plain)["error_description"][0]


@pytest.mark.coder_fake(generation="g1")
def test_11_g1_pkce_optional(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": CALLBACK,
        "state": "s",
    }
    page = http.get("/oauth2/authorize", params=params)
    assert page.status_code == 200
    allowed = http.post("/oauth2/authorize", params=params)  # G1: no CSRF token needed
    assert allowed.status_code == 302
    code = query_of(allowed)["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    tokens = http.post("/oauth2/tokens", data=data, auth=(client["client_id"], client["client_secret"]))
    assert tokens.status_code == 200


def test_12_consent_page(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http, client_name="<script>x</script>")
    login(http, coder_fake)
    _, challenge = pkce_pair()
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "method='post'" in page.text and "id='allow'" in page.text and "id='cancel'" in page.text
    assert csrf_of(page.text)
    forged = http.post(
        "/oauth2/authorize", params=authorize_params(client, challenge), data={"csrf_token": "x"}
    )
    assert forged.status_code == 400
    assert "CSRF" in forged.json()["message"]


def _cancel_href(page: str) -> str:
    match = re.search(r"id='cancel' href='([^']*)'", page)
    assert match
    return match.group(1).replace("&amp;", "&")


def test_13_cancel_link(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    _, challenge = pkce_pair()
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge))
    query = parse_qs(urlsplit(_cancel_href(page.text)).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-123"]
    assert query["error_description"] == ["The resource owner or authorization server denied the request"]


@pytest.mark.coder_fake(generation="g1")
def test_13_g1_cancel_without_state(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    _, challenge = pkce_pair()
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge))
    assert parse_qs(urlsplit(_cancel_href(page.text)).query) == {"error": ["access_denied"]}


@pytest.mark.coder_fake(cancel_link_bug=True)
def test_13_zgotmplz_bug_for_custom_schemes(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http, redirect_uris=["vscode://coder.coder-remote/cb"])
    login(http, coder_fake)
    _, challenge = pkce_pair()
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge))
    assert _cancel_href(page.text) == "#ZgotmplZ"
    loopback = register(http)
    page = http.get("/oauth2/authorize", params=authorize_params(loopback, challenge))
    assert _cancel_href(page.text).startswith(CALLBACK)


def test_14_allow_issues_code_and_replaces_earlier(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http, redirect_uris=["http://127.0.0.1:8888/callback?keep=1&state=old"])
    login(http, coder_fake)
    verifier, challenge = pkce_pair()
    first = get_code(http, client, challenge)
    params = authorize_params(client, challenge)
    page = http.get("/oauth2/authorize", params=params)
    allowed = http.post("/oauth2/authorize", params=params, data={"csrf_token": csrf_of(page.text)})
    assert allowed.status_code == 302
    query = query_of(allowed)
    assert PREFIXED_RE.match(query["code"][0])
    assert query["state"] == ["st-123"]
    assert query["keep"] == ["1"]
    assert exchange(http, client, first, verifier).json()["error"] == "invalid_grant"  # earlier code dropped
    assert exchange(http, client, query["code"][0], verifier).status_code == 200


def test_14_code_expires_after_ten_minutes(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    verifier, challenge = pkce_pair()
    code = get_code(http, client, challenge)
    coder_fake.advance(601)
    assert exchange(http, client, code, verifier).json()["error"] == "invalid_grant"


def test_15_bad_params_redirect_with_state(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http, scope="workspace:read")
    login(http, coder_fake)
    _, challenge = pkce_pair()
    cases = [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "coder:all"}, "invalid_scope"),
        ({"scope": "no-such-scope"}, "invalid_scope"),
        ({"resource": "not absolute"}, "invalid_target"),
    ]
    for extra, error in cases:
        response = http.get("/oauth2/authorize", params=authorize_params(client, challenge, **extra))
        assert response.status_code == 302, extra
        assert query_of(response)["error"] == [error]
        assert query_of(response)["state"] == ["st-123"]
    unknown = http.get("/oauth2/authorize", params=authorize_params(client, challenge, nonce="n", prompt="x"))
    assert unknown.status_code == 200  # G3 ignores unknown parameters
    dup = http.get(
        "/oauth2/authorize", params=[*authorize_params(client, challenge).items(), ("state", "again")]
    )
    assert query_of(dup)["error"] == ["invalid_request"]


@pytest.mark.coder_fake(generation="g2")
def test_15_g2_error_page_but_redirects(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    _, challenge = pkce_pair()
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge, nonce="x"))
    assert page.status_code == 400
    assert "Invalid Query Parameters" in page.text
    post = http.post("/oauth2/authorize", params=authorize_params(client, "short"))
    assert post.status_code == 400
    assert post.json()["error"] == "invalid_request"
    redirect = http.get(
        "/oauth2/authorize", params=authorize_params(client, challenge, response_type="token")
    )
    assert redirect.status_code == 302
    assert query_of(redirect)["error"] == ["unsupported_response_type"]


@pytest.mark.coder_fake(generation="g1")
def test_15_g1_error_page_for_everything(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    _, challenge = pkce_pair()
    page = http.get("/oauth2/authorize", params=authorize_params(client, challenge, response_type="token"))
    assert page.status_code == 400
    assert "Invalid Query Parameters" in page.text


# --------------------------------------------------------------------------- §11.16-22 tokens


def test_16_client_authentication_methods(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    verifier, challenge = pkce_pair()
    code = get_code(http, client, challenge)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": CALLBACK,
    }
    basic = http.post("/oauth2/tokens", data=data, auth=(client["client_id"], client["client_secret"]))
    assert basic.status_code == 200  # client_secret_basic
    code = get_code(http, client, challenge)
    conflict = http.post(
        "/oauth2/tokens",
        data={**data, "code": code, "client_id": client["client_id"], "client_secret": "coder_x_y"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert conflict.status_code == 400
    assert conflict.json()["error"] == "invalid_request"
    in_query = http.post(f"/oauth2/tokens?client_secret={client['client_secret']}", data=data)
    assert in_query.json()["error"] == "invalid_request"
    public = register(http, token_endpoint_auth_method="none")
    code = get_code(http, public, challenge)
    assert exchange(http, public, code, verifier).status_code == 200  # none: only client_id + PKCE
    as_json = http.post("/oauth2/tokens", json=data)
    assert as_json.status_code == 400  # form data only


def test_17_token_response_shape(coder_fake: FakeCoder, http: httpx.Client) -> None:
    _, tokens = tokens_for(http, coder_fake)
    assert ACCESS_RE.match(tokens["access_token"])
    assert PREFIXED_RE.match(tokens["refresh_token"])
    assert tokens["token_type"] == "Bearer"
    assert 86300 < tokens["expires_in"] < 86400
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", tokens["expiry"])


def test_18_token_errors(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    verifier, challenge = pkce_pair()
    code = get_code(http, client, challenge)
    wrong = exchange(http, client, code, verifier, client_secret="coder_aaaaaaaaaa_" + "b" * 40)
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"] == 'Basic realm="coder"'
    unknown = http.post(
        "/oauth2/tokens", data={"grant_type": "authorization_code", "client_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 401
    grant = http.post("/oauth2/tokens", data={"grant_type": "password", "client_id": client["client_id"]})
    assert grant.json()["error"] == "unsupported_grant_type"
    no_code = exchange(http, client, "", verifier)
    assert no_code.json() == {
        "error": "invalid_request",
        "error_description": "Missing required parameter: code",
    }
    bogus = exchange(http, client, "coder_aaaaaaaaaa_" + "c" * 40, verifier)
    assert bogus.status_code == 400 and bogus.json()["error"] == "invalid_grant"
    mismatch = exchange(http, client, code, verifier, redirect_uri="http://127.0.0.1:8888/elsewhere")
    assert mismatch.json()["error"] == "invalid_request"
    no_id = http.post("/oauth2/tokens", data={"grant_type": "authorization_code"})
    assert no_id.json()["error"] == "invalid_request"


def test_19_code_consumed_even_when_pkce_fails(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http)
    login(http, coder_fake)
    verifier, challenge = pkce_pair()
    code = get_code(http, client, challenge)
    bad = exchange(http, client, code, pkce_pair()[0])
    assert bad.json() == {"error": "invalid_grant", "error_description": "The PKCE code verifier is invalid"}
    assert exchange(http, client, code, verifier).json()["error"] == "invalid_grant"
    code = get_code(http, client, challenge)
    assert exchange(http, client, code, verifier).status_code == 200
    assert exchange(http, client, code, verifier).json()["error"] == "invalid_grant"  # single use


def _refresh(http: httpx.Client, client: dict, refresh_token: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client["client_id"],
        "client_secret": client.get("client_secret", ""),
        **extra,
    }
    return http.post("/oauth2/tokens", data=data)


def _me(http: httpx.Client, access_token: str) -> int:
    """Status of /users/me with only this Bearer token (no session cookie from the login)."""
    url = str(http.base_url).rstrip("/") + "/api/v2/users/me"
    return httpx.get(url, headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_20_refresh_rotates_and_kills_old_tokens(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client, first = tokens_for(http, coder_fake)
    no_secret = _refresh(http, {"client_id": client["client_id"]}, first["refresh_token"])
    assert no_secret.status_code == 401  # G3 checks the secret on refresh
    assert _me(http, first["access_token"]) == 200  # a refused refresh changes nothing
    second = _refresh(http, client, first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["access_token"] != first["access_token"] and new["refresh_token"] != first["refresh_token"]
    assert _me(http, first["access_token"]) == 401
    assert _refresh(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert _me(http, new["access_token"]) == 200  # no reuse detection
    assert _refresh(http, client, new["refresh_token"], scope="coder:all").status_code == 200


def test_20_one_live_token_per_user_and_app(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client, first = tokens_for(http, coder_fake)
    _, second = tokens_for(http, coder_fake, client)
    assert _me(http, first["access_token"]) == 401
    assert _me(http, second["access_token"]) == 200
    assert _refresh(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.coder_fake(generation="g1")
def test_20_g1_refresh_without_secret(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client, first = tokens_for(http, coder_fake)
    assert _refresh(http, {"client_id": client["client_id"]}, first["refresh_token"]).status_code == 200


@pytest.mark.coder_fake(generation="g1")
def test_5_g1_clients_always_confidential(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client = register(http, token_endpoint_auth_method="none")
    assert PREFIXED_RE.match(client["client_secret"])
    doc = http.get("/.well-known/oauth-authorization-server").json()
    assert "none" not in doc["token_endpoint_auth_methods_supported"]


def test_21_revoke(coder_fake: FakeCoder, http: httpx.Client) -> None:
    client, tokens = tokens_for(http, coder_fake)
    creds = {"client_id": client["client_id"], "client_secret": client["client_secret"]}
    assert http.post("/oauth2/revoke", data={**creds}).json()["error"] == "invalid_request"
    bad = http.post(
        "/oauth2/revoke", data={**creds, "client_secret": "coder_aaaaaaaaaa_" + "d" * 40, "token": "x"}
    )
    assert bad.status_code == 401
    malformed = http.post("/oauth2/revoke", data={**creds, "token": "coder_bad"})
    assert malformed.status_code == 400
    assert malformed.json()["error_description"] == "Invalid token format"
    unknown = http.post("/oauth2/revoke", data={**creds, "token": "coder_aaaaaaaaaa_" + "e" * 40})
    assert unknown.status_code == 200 and unknown.content == b""
    foreign = http.post("/oauth2/revoke", data={**creds, "token": coder_fake.session_token})
    assert foreign.status_code == 200
    assert _me(http, coder_fake.session_token) == 200  # non-OAuth keys are never revoked here
    assert http.get("/oauth2/revoke").status_code == 405
    ok = http.post("/oauth2/revoke", data={**creds, "token": tokens["refresh_token"]})
    assert ok.status_code == 200 and ok.content == b""
    assert _me(http, tokens["access_token"]) == 401  # refresh revocation kills the access token
    _, tokens = tokens_for(http, coder_fake, client)
    assert http.post("/oauth2/revoke", data={**creds, "token": tokens["access_token"]}).status_code == 200
    assert _me(http, tokens["access_token"]) == 401
    assert _refresh(http, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_22_delete_tokens_for_app(coder_fake: FakeCoder, http: httpx.Client, api: httpx.Client) -> None:
    client, tokens = tokens_for(http, coder_fake)
    response = api.delete("/oauth2/tokens", params={"client_id": client["client_id"]})
    assert response.status_code == 204
    assert _me(http, tokens["access_token"]) == 401
    assert (
        http.get(
            "/oauth2/clients/" + client["client_id"],
            headers={"Authorization": f"Bearer {client['registration_access_token']}"},
        ).status_code
        == 200
    )


# --------------------------------------------------------------------------- login & browser flow


def test_login_page_refuses_open_redirects(coder_fake: FakeCoder, http: httpx.Client) -> None:
    page = http.get("/login", params={"message": "<b>hi</b>", "redirect": "/x"})
    assert page.status_code == 200 and "&lt;b&gt;hi&lt;/b&gt;" in page.text
    assert page.headers["cache-control"] == "no-store"
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        response = http.post(
            "/login", data={"username": "admin", "password": coder_fake.password, "redirect": target}
        )
        assert response.headers["location"] == "/", target
    wrong = http.post("/login", data={"username": "admin", "password": "nope", "redirect": "/"})
    assert wrong.status_code == 401 and "Incorrect" in wrong.text


def test_password_login_api(coder_fake: FakeCoder, http: httpx.Client) -> None:
    ok = http.post("/api/v2/users/login", json={"email": "admin@coder.test", "password": coder_fake.password})
    assert ok.status_code == 201
    assert _me(http, ok.json()["session_token"]) == 200
    bad = http.post("/api/v2/users/login", json={"email": "admin@coder.test", "password": "x"})
    assert bad.status_code == 401
    missing = http.post("/api/v2/users/login", json={})
    assert missing.json()["message"] == "Validation failed."


def test_whole_browser_flow_with_plain_httpx(coder_fake: FakeCoder) -> None:
    with httpx.Client(base_url=coder_fake.url, follow_redirects=False, timeout=10) as browser:
        client = register(browser)
        verifier, challenge = pkce_pair()
        params = authorize_params(client, challenge, state="opaque-state")
        to_login = browser.get("/oauth2/authorize", params=params)
        assert to_login.status_code == 303
        login_url = to_login.headers["location"]
        assert browser.get(login_url).status_code == 200
        redirect_target = parse_qs(urlsplit(login_url).query)["redirect"][0]
        logged_in = browser.post(
            "/login",
            data={
                "username": coder_fake.username,
                "password": coder_fake.password,
                "redirect": redirect_target,
            },
        )
        assert logged_in.status_code == 303
        consent = browser.get(logged_in.headers["location"])
        assert consent.status_code == 200 and "Authorize Notebook" in consent.text
        action = re.search(r"<form method='post' action='([^']*)'", consent.text)
        assert action
        allowed = browser.post(
            action.group(1).replace("&amp;", "&"), data={"csrf_token": csrf_of(consent.text)}
        )
        assert allowed.status_code == 302
        callback = urlsplit(allowed.headers["location"])
        assert f"{callback.scheme}://{callback.netloc}{callback.path}" == CALLBACK
        query = parse_qs(callback.query)
        assert query["state"] == ["opaque-state"]
    with httpx.Client(base_url=coder_fake.url, timeout=10) as notebook:
        tokens = exchange(notebook, client, query["code"][0], verifier)
        assert tokens.status_code == 200
        me = notebook.get(
            "/api/v2/users/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["username"] == coder_fake.username
