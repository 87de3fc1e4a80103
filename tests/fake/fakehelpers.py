"""HTTP helpers shared by the fake's tests: PKCE, registration, login, consent, code exchange."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

from coder_jupyter.testing import FakeCoder

CALLBACK = "http://127.0.0.1:8888/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def register(http: httpx.Client, *, redirect_uris: list[str] | None = None, **extra: object) -> dict:
    body = {"redirect_uris": redirect_uris or [CALLBACK], "client_name": "Notebook", **extra}
    response = http.post("/oauth2/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def login(
    http: httpx.Client, fake: FakeCoder, username: str | None = None, password: str | None = None
) -> None:
    response = http.post(
        "/login",
        data={"username": username or fake.username, "password": password or fake.password, "redirect": "/"},
    )
    assert response.status_code == 303, response.text
    assert "coder_session_token" in http.cookies


def csrf_of(page: str) -> str:
    match = re.search(r"name='csrf_token' value='([^']*)'", page)
    assert match, page
    return match.group(1)


def authorize_params(client: dict, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def get_code(http: httpx.Client, client: dict, challenge: str, **extra: str) -> str:
    """Allow on the consent page (session cookie must be set); return the code."""
    params = authorize_params(client, challenge, **extra)
    page = http.get("/oauth2/authorize", params=params)
    assert page.status_code == 200, page.text
    response = http.post("/oauth2/authorize", params=params, data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0]


def exchange(http: httpx.Client, client: dict, code: str, verifier: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": client["redirect_uris"][0],
        "client_id": client["client_id"],
    }
    if client.get("client_secret"):
        data["client_secret"] = client["client_secret"]
    data.update(extra)
    return http.post("/oauth2/tokens", data=data)


def tokens_for(http: httpx.Client, fake: FakeCoder, client: dict | None = None) -> tuple[dict, dict]:
    """Register (if needed), log in, authorize and exchange: returns (client, token response)."""
    client = client or register(http)
    if "coder_session_token" not in http.cookies:
        login(http, fake)
    verifier, challenge = pkce_pair()
    code = get_code(http, client, challenge)
    response = exchange(http, client, code, verifier)
    assert response.status_code == 200, response.text
    return client, response.json()


# --------------------------------------------------------------------------- G4 helpers


def enable_dcr(fake: FakeCoder) -> None:
    """Turn DCR on the way an admin does: ``PUT /api/v2/oauth2-provider/settings`` as the owner."""
    response = httpx.put(
        f"{fake.url}/api/v2/oauth2-provider/settings",
        json={"dynamic_client_registration_enabled": True},
        headers={"Coder-Session-Token": fake.session_token},
    )
    assert response.status_code == 200, response.text


def admin_client(fake: FakeCoder, scope: str = "", redirect_uri: str = CALLBACK) -> dict:
    """An admin-registered confidential app (optionally with an allowlist), as a client dict."""
    app = fake.create_oauth2_app("Notebook", redirect_uri, scope=scope)
    return {"client_id": app.client_id, "client_secret": app.client_secret, "redirect_uris": [redirect_uri]}


def authorize_with_header(
    fake: FakeCoder, client: dict, challenge: str, token: str | None = None, **extra: str
) -> httpx.Response:
    """``POST /oauth2/authorize?…`` with only ``Coder-Session-Token`` (no body, no CSRF): Coder's tests."""
    return httpx.post(
        f"{fake.url}/oauth2/authorize",
        params=authorize_params(client, challenge, **extra),
        headers={"Coder-Session-Token": token or fake.session_token},
        follow_redirects=False,
    )


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def oauth_tokens(fake: FakeCoder, http: httpx.Client, client: dict, **extra: str) -> dict:
    """Authorize (header-authenticated) and exchange: the token response body."""
    verifier, challenge = pkce_pair()
    code = code_from(authorize_with_header(fake, client, challenge, **extra))
    response = exchange(http, client, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()
