"""Property-based tests (hypothesis) for every parser of untrusted input: whatever a server, a
browser or a file on disk holds, the parser returns a value or raises our typed error
(:class:`~coder_jupyter.errors.CoderError`) — no other exception escapes.

Examples are bounded (``max_examples``) so the whole module stays within a few seconds on CI.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder_jupyter._oauth import authorize
from coder_jupyter._oauth.metadata import parse_metadata
from coder_jupyter._oauth.models import AuthServerMetadata, ClientRegistration, PendingLogin
from coder_jupyter._oauth.registration import parse_client_configuration, parse_registration
from coder_jupyter._oauth.responses import error_from_response
from coder_jupyter._oauth.tokens import parse_revocation, parse_token_response
from coder_jupyter._store import PendingLogins, Store
from coder_jupyter._transport import check_expected, raise_for_status
from coder_jupyter.client._api import Api
from coder_jupyter.client.models import BuildInfo, Organization, Template, User, Workspace, WorkspaceBuild
from coder_jupyter.errors import CoderError, LoginStateError, OAuthError

BASE = "https://coder.example.com"
METADATA = AuthServerMetadata(issuer=BASE, authorization_endpoint=f"{BASE}/oauth2/authorize",
                              token_endpoint=f"{BASE}/oauth2/tokens")
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])

json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
url_like = st.sampled_from([BASE, f"{BASE}/x", "http://coder.example.com/x", "javascript:alert(1)", "",
                            "/rel",
                            "https://other.example.com", "https://[::1", "https://coder.example.com#f"])


def objects(*keys: str, special: dict[str, Any] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects whose keys are the ones a parser reads, with arbitrary (or URL-like) values."""
    values = {k: (special or {}).get(k, json_value | url_like) for k in keys}
    return st.fixed_dictionaries({}, optional=values)


def bodies(*keys: str) -> st.SearchStrategy[bytes]:
    """Response bodies: arbitrary bytes, any JSON, or a JSON object with the parser's keys."""
    return (st.binary(max_size=200)
            | json_value.map(lambda v: json.dumps(v).encode())
            | objects(*keys).map(lambda v: json.dumps(v).encode()))


statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 405, 410, 429, 500, 502, 503])

METADATA_KEYS = ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint",
                 "registration_endpoint", "response_types_supported", "grant_types_supported",
                 "code_challenge_methods_supported", "token_endpoint_auth_methods_supported",
                 "scopes_supported", "message")
REGISTRATION_KEYS = ("client_id", "client_secret", "token_endpoint_auth_method", "redirect_uris",
                     "registration_access_token", "registration_client_uri", "client_id_issued_at",
                     "client_secret_expires_at", "error", "error_description", "message")
TOKEN_KEYS = ("access_token", "token_type", "refresh_token", "expires_in", "expiry", "scope",
              "error", "error_description", "error_uri", "message", "detail")


@FEW
@given(status=statuses, body=bodies(*METADATA_KEYS), deployment=st.sampled_from([BASE, "http://127.0.0.1:3000"]))
def test_discovery_metadata_parses_or_raises_typed(status: int, body: bytes, deployment: str) -> None:
    try:
        metadata = parse_metadata(status, body, deployment_url=deployment)
    except CoderError:
        return
    if deployment.startswith("https:"):  # never a clear-text endpoint for an https deployment
        assert all(u is None or u.startswith("https://") for u in (
            metadata.authorization_endpoint, metadata.token_endpoint, metadata.revocation_endpoint,
            metadata.registration_endpoint))


@FEW
@given(status=statuses, body=bodies(*REGISTRATION_KEYS))
def test_registration_responses_parse_or_raise_typed(status: int, body: bytes) -> None:
    previous = ClientRegistration(client_id="c", client_secret="s", registration_access_token="r",
                                  registration_client_uri=f"{BASE}/oauth2/clients/c")
    with contextlib.suppress(CoderError):
        parse_registration(status, body, redirect_uris=("http://127.0.0.1/cb",), requested="none",
                           metadata=METADATA, deployment_url=BASE)
    with contextlib.suppress(CoderError):
        parse_client_configuration(status, body, previous=previous, metadata=METADATA)


@FEW
@given(status=statuses, body=bodies(*TOKEN_KEYS), previous=st.none() | st.text(max_size=5))
def test_token_responses_parse_or_raise_typed(status: int, body: bytes, previous: str | None) -> None:
    try:
        tokens = parse_token_response(status, body, now=1000.0, client_id="c",
                                      previous_refresh_token=previous)
    except CoderError:
        return
    assert tokens.access_token and isinstance(tokens.access_token, str)


@FEW
@given(status=statuses, body=bodies(*TOKEN_KEYS))
def test_oauth_error_bodies_become_oauth_errors(status: int, body: bytes) -> None:
    error = error_from_response(status, body, doing="Doing it", hint="Try again.")
    assert isinstance(error, OAuthError) and str(error).isprintable()
    with contextlib.suppress(CoderError):
        parse_revocation(status, body)


callback_keys = st.sampled_from(["code", "state", "error", "error_description", "error_uri", "iss", "x"])


@FEW
@given(query=st.lists(st.tuples(callback_keys, st.text(max_size=30)), max_size=6) | st.text(max_size=80),
       pending_state=st.text(min_size=1, max_size=10))
def test_callback_queries_parse_and_check_or_raise_typed(query: Any, pending_state: str) -> None:
    raw = httpx.QueryParams(query).__str__() if isinstance(query, list) else query
    params = authorize.parse_callback(raw)
    pending = PendingLogin(deployment_url=BASE, state=pending_state, code_verifier="v" * 43,
                           expires_at=2000.0)
    try:
        code = authorize.check_callback(params, pending, now=1000.0)
    except CoderError:
        return
    assert params.state == pending_state and code == params.code


@FEW
@given(content=st.binary(max_size=300) | json_value.map(lambda v: json.dumps(v).encode())
       | objects("access_token", "refresh_token", "client_id", "expires_at", "method", "fetched_at",
                 "metadata", "issuer", "state", "deployment_url", "code_verifier")
       .map(lambda v: json.dumps(v).encode()),
       name=st.sampled_from(["tokens.json", "registration.json", "metadata.json", "account.json"]))
def test_store_files_load_or_read_as_absent(tmp_path: Path, content: bytes, name: str) -> None:
    store = Store(BASE, root=tmp_path)
    store.save_account({"username": "alice"})  # creates the directory
    (store.path / name).write_bytes(content)
    store.load_tokens()
    store.load_registration()
    store.load_metadata(max_age=10.0, now=5.0)
    store.load_account()
    logins = PendingLogins(root=tmp_path)
    logins.put(PendingLogin(deployment_url=BASE, state="s", code_verifier="v" * 43, expires_at=2e9))
    next(logins.path.glob("*.json")).write_bytes(content)
    with contextlib.suppress(LoginStateError):
        logins.take("s")
    logins.latest_for(None)


MODELS = [BuildInfo, User, Organization, Template, Workspace, WorkspaceBuild]


def _response(status: int, body: bytes, content_type: str) -> httpx.Response:
    request = httpx.Request("GET", f"{BASE}/api/v2/users/me?q=secret", headers={"Accept": "application/json"})
    return httpx.Response(status, content=body, headers={"Content-Type": content_type}, request=request)


@FEW
@given(model=st.sampled_from(MODELS), status=statuses,
       body=bodies("id", "name", "username", "created_at", "latest_build", "workspaces", "count", "roles",
                   "message", "detail", "validations"),
       content_type=st.sampled_from(["application/json", "text/html", "", "text/plain; charset=utf-8"]))
def test_api_answers_decode_or_raise_typed(model: Any, status: int, body: bytes, content_type: str) -> None:
    api, response = Api(BASE), _response(status, body, content_type)
    try:
        check_expected(response)
        raise_for_status(response)
        api._one(model, body, response)
    except CoderError as exc:
        assert "secret" not in str(exc)
    for decode in (lambda: api._many(model, body, response),
                   lambda: api.decode_workspaces_page(body, 0, response)):
        with contextlib.suppress(CoderError):
            decode()


@pytest.mark.parametrize("model", MODELS)
def test_truncated_model_json_is_a_typed_error(model: Any) -> None:
    from coder_jupyter.errors import UnexpectedResponseError

    with pytest.raises(UnexpectedResponseError, match="not valid JSON"):
        Api(BASE)._one(model, b'{"id": "', _response(200, b'{"id": "', "application/json"))
