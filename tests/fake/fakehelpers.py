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
