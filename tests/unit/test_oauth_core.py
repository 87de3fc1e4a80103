"""The sans-IO OAuth core: PKCE, metadata, registration, authorize URL/callback, token bodies."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from coder_jupyter._oauth import authorize, metadata, pkce, registration, tokens
from coder_jupyter._oauth.models import AuthServerMetadata, ClientRegistration, PendingLogin
from coder_jupyter._oauth.responses import is_transient
from coder_jupyter.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidMetadataError,
    LoginStateError,
    OAuthError,
    OAuthUnavailableError,
    RegistrationUnavailableError,
    TransportError,
)

BASE = "https://coder.example.com"
META_DOC = {
    "issuer": BASE,
    "authorization_endpoint": f"{BASE}/oauth2/authorize",
    "token_endpoint": f"{BASE}/oauth2/tokens",
    "revocation_endpoint": f"{BASE}/oauth2/revoke",
    "registration_endpoint": f"{BASE}/oauth2/register",
    "response_types_supported": ["code"],
    "grant_types_supported": ["authorization_code", "refresh_token"],
    "code_challenge_methods_supported": ["S256"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
}
META = AuthServerMetadata.from_json({k: v for k, v in META_DOC.items() if k != "issuer"} | {"issuer": BASE})


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


# --- PKCE and state ---------------------------------------------------------------------------


def test_verifier_is_43_to_128_unreserved_chars_and_challenge_is_s256() -> None:
    verifier = pkce.make_verifier()
    assert pkce.is_valid_verifier(verifier) and len(verifier) == pkce.VERIFIER_LENGTH
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert pkce.s256_challenge(verifier) == expected
    assert len(pkce.make_verifier(length=43)) == 43 and len(pkce.make_verifier(length=128)) == 128
    with pytest.raises(ValueError):
        pkce.make_verifier(length=42)


def test_rfc7636_appendix_b_example() -> None:
    assert (
        pkce.s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_randomness_is_injected_and_states_differ() -> None:
    assert pkce.make_state(lambda n: b"\0" * n) == "A" * 43
    assert pkce.make_state() != pkce.make_state()


# --- Discovery --------------------------------------------------------------------------------


def test_metadata_url_appends_well_known_to_the_deployment() -> None:
    assert metadata.metadata_url(BASE + "/") == f"{BASE}/.well-known/oauth-authorization-server"


def test_valid_metadata_parses() -> None:
    meta = metadata.parse_metadata(200, body(META_DOC), deployment_url=BASE)
    assert meta.token_endpoint == f"{BASE}/oauth2/tokens"
    assert meta.registration_endpoint == f"{BASE}/oauth2/register"


def test_provider_disabled_404_suggests_a_token() -> None:
    with pytest.raises(OAuthUnavailableError, match="CODER_SESSION_TOKEN") as info:
        metadata.parse_metadata(404, body({"message": "Route not found."}), deployment_url=BASE)
    assert "administrator" in str(info.value)


def test_g1_experiment_off_403_is_named() -> None:
    answer = body({"message": "OAuth2 Provider functionality requires enabling the 'oauth2' experiment."})
    with pytest.raises(OAuthUnavailableError, match="experiment"):
        metadata.parse_metadata(403, answer, deployment_url=BASE)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"code_challenge_methods_supported": ["plain"]}, "S256"),
        ({"grant_types_supported": ["implicit"]}, "authorization_code"),
        ({"response_types_supported": ["token"]}, "'code'"),
        ({"token_endpoint": "/oauth2/tokens"}, "token_endpoint"),
        ({"scopes_supported": "all"}, "scopes_supported"),
    ],
)
def test_unusable_metadata_is_refused_with_the_reason(change: dict[str, object], needle: str) -> None:
    with pytest.raises(InvalidMetadataError, match=needle):
        metadata.parse_metadata(200, body(META_DOC | change), deployment_url=BASE)


@pytest.mark.parametrize("issuer", [BASE, BASE + "/", BASE.upper().replace("HTTPS", "https")])
def test_issuer_matching_the_deployment_is_accepted(issuer: str) -> None:
    assert metadata.parse_metadata(200, body(META_DOC | {"issuer": issuer}), deployment_url=BASE)


def test_metadata_for_another_issuer_is_refused_and_names_the_fix() -> None:
    # RFC 8414 §3.3: a server answering with another issuer's metadata is not trusted (mix-up).
    with pytest.raises(InvalidMetadataError) as info:
        metadata.parse_metadata(200, body(META_DOC | {"issuer": "https://evil.example"}), deployment_url=BASE)
    assert info.value.error == "issuer_mismatch"
    assert "set CODER_URL=https://evil.example" in str(info.value)


def test_non_json_metadata_is_an_error_not_a_crash() -> None:
    with pytest.raises(InvalidMetadataError):
        metadata.parse_metadata(200, b"<html>proxy</html>", deployment_url=BASE)
    with pytest.raises(InvalidMetadataError, match="HTTP 502"):
        metadata.parse_metadata(502, b"", deployment_url=BASE)


def test_omitted_optional_lists_get_rfc8414_defaults() -> None:
    doc = {k: META_DOC[k] for k in ("issuer", "authorization_endpoint", "token_endpoint")}
    meta = metadata.parse_metadata(
        200, body(doc | {"response_types_supported": ["code"]}), deployment_url=BASE
    )
    assert meta.token_endpoint_auth_methods_supported == ("client_secret_basic",)
    assert meta.registration_endpoint is None and meta.revocation_endpoint is None


# --- Registration -----------------------------------------------------------------------------


def test_public_client_preferred_when_none_is_offered() -> None:
    with_none = AuthServerMetadata.from_json(
        META.to_json() | {"token_endpoint_auth_methods_supported": ["client_secret_basic", "none"]}
    )
    assert registration.choose_auth_method(with_none) == "none"
    assert registration.choose_auth_method(META) == "client_secret_basic"
    post_only = AuthServerMetadata.from_json(
        META.to_json() | {"token_endpoint_auth_methods_supported": ["client_secret_post"]}
    )
    assert registration.choose_auth_method(post_only) == "client_secret_post"


def test_registration_body_sends_only_documented_fields() -> None:
    doc = registration.registration_body(("http://127.0.0.1/cb",), auth_method="none")
    assert set(doc) == {
        "redirect_uris",
        "client_name",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
    }


def test_secret_returned_for_a_public_request_is_kept_and_used() -> None:
    # Given Coder G1, which makes every client confidential
    answer = {
        "client_id": "c1",
        "client_secret": "s3cr3t",
        "token_endpoint_auth_method": "none",
        "redirect_uris": ["http://127.0.0.1/cb"],
        "registration_access_token": "r4t-xyz",
        "registration_client_uri": f"{BASE}/oauth2/clients/c1",
    }
    # When
    reg = registration.parse_registration(
        201,
        body(answer),
        redirect_uris=("http://127.0.0.1/cb",),
        requested="none",
        metadata=META,
        deployment_url=BASE,
    )
    # Then
    assert reg.client_secret == "s3cr3t" and reg.token_endpoint_auth_method == "client_secret_basic"
    assert reg.registration_access_token == "r4t-xyz"
    assert "s3cr3t" not in repr(reg) and "r4t-xyz" not in repr(reg)


def test_registration_errors() -> None:
    with pytest.raises(RegistrationUnavailableError, match="CODER_OAUTH_CLIENT_ID"):
        registration.parse_registration(
            403,
            body({"message": "Forbidden."}),
            redirect_uris=(),
            requested="none",
            metadata=META,
            deployment_url=BASE,
        )
    with pytest.raises(OAuthError, match="invalid_client_metadata") as info:
        registration.parse_registration(
            400,
            body({"error": "invalid_client_metadata", "error_description": "must use https"}),
            redirect_uris=(),
            requested="none",
            metadata=META,
            deployment_url=BASE,
        )
    assert info.value.error_description == "must use https"
    with pytest.raises(InvalidMetadataError):
        registration.parse_registration(
            201, b"", redirect_uris=(), requested="none", metadata=META, deployment_url=BASE
        )


def test_redirects_match_exactly_because_g1_compares_loopback_ports() -> None:
    reg = ClientRegistration(
        client_id="c",
        redirect_uris=("http://127.0.0.1:9000/callback", "https://hub.example.com/coder/oauth/callback"),
    )
    assert registration.redirect_registered(reg, "http://127.0.0.1:9000/callback")
    assert not registration.redirect_registered(reg, "http://127.0.0.1:51234/callback")
    assert registration.redirect_registered(reg, "https://hub.example.com/coder/oauth/callback")
    assert not registration.redirect_registered(reg, "https://hub.example.com:8443/coder/oauth/callback")


def test_rfc7592_read_keeps_known_secrets_and_reports_a_gone_client() -> None:
    prev = ClientRegistration(
        client_id="c",
        client_secret="s",
        registration_access_token="rat",
        registration_client_uri=f"{BASE}/oauth2/clients/c",
        redirect_uris=("a",),
    )
    # Coder's PUT once echoed the stored hash: the token we hold is kept.
    answer = {
        "client_id": "c",
        "redirect_uris": ["a", "b"],
        "registration_access_token": "hash",
        "token_endpoint_auth_method": "client_secret_basic",
    }
    new = registration.parse_client_configuration(200, body(answer), previous=prev, metadata=META)
    assert new is not None
    assert (new.client_secret, new.registration_access_token, new.redirect_uris) == ("s", "rat", ("a", "b"))
    assert registration.parse_client_configuration(401, b"{}", previous=prev, metadata=META) is None


# --- Authorization request and callback --------------------------------------------------------


def test_authorization_url_has_exactly_the_documented_parameters() -> None:
    url = authorize.authorization_url(
        META, client_id="c", redirect_uri="http://127.0.0.1:1/cb", state="st", code_challenge="ch"
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "response_type": ["code"],
        "client_id": ["c"],
        "redirect_uri": ["http://127.0.0.1:1/cb"],
        "state": ["st"],
        "code_challenge": ["ch"],
        "code_challenge_method": ["S256"],
    }


def pending(state: str = "good-state", expires_at: float = 1000.0) -> PendingLogin:
    return PendingLogin(
        deployment_url=BASE, state=state, code_verifier="v" * 43, redirect_uri="r", expires_at=expires_at
    )


def test_callback_checks_error_before_code_before_state() -> None:
    # error wins over a bad state: the user hears "cancelled" (no RFC wording); Coder's
    # description is kept, percent-decoded, on the exception
    params = authorize.parse_callback(
        "http://x/cb?error=access_denied&error_description=The%20user%20said%20no"
    )
    with pytest.raises(AccessDeniedError, match=r"^Login cancelled") as info:
        authorize.check_callback(params, None, now=0)
    assert info.value.error_description == "The user said no"
    assert "The user said no" not in str(info.value)
    # a missing code wins over the state
    with pytest.raises(OAuthError, match="no authorization code"):
        authorize.check_callback(authorize.parse_callback("state=good-state"), pending(), now=0)
    # then the state
    for query, found in (("code=c", pending()), ("code=c&state=bad", pending()), ("code=c&state=x", None)):
        with pytest.raises(LoginStateError):
            authorize.check_callback(authorize.parse_callback(query), found, now=0)


def test_expired_pending_login_is_refused_and_a_good_one_yields_the_code() -> None:
    params = authorize.parse_callback({"code": "the-code", "state": "good-state"})
    with pytest.raises(LoginStateError, match="expired"):
        authorize.check_callback(params, pending(expires_at=10), now=11)
    assert authorize.check_callback(params, pending(), now=11) == "the-code"
    assert "the-code" not in repr(params) and "good-state" not in repr(params)


def test_other_callback_errors_are_oauth_errors_with_fields() -> None:
    params = authorize.parse_callback("?error=invalid_scope&error_description=nope&state=s")
    with pytest.raises(OAuthError) as info:
        authorize.check_callback(params, pending(), now=0)
    assert not isinstance(info.value, AccessDeniedError)
    assert (info.value.error, info.value.error_description) == ("invalid_scope", "nope")


# --- Token endpoint ----------------------------------------------------------------------------

CONFIDENTIAL = ClientRegistration(client_id="cid", client_secret="sec+/ret")


def test_basic_client_auth_form_encodes_then_base64s() -> None:
    req = tokens.code_request(META, CONFIDENTIAL, code="c", redirect_uri="r", code_verifier="v")
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:sec%2B%2Fret").decode()
    assert req.form == {
        "grant_type": "authorization_code",
        "code": "c",
        "redirect_uri": "r",
        "code_verifier": "v",
        "client_id": "cid",
    }
    assert "sec" not in repr(req) and "code_verifier" not in repr(req)


def test_post_and_none_client_auth() -> None:
    post = ClientRegistration(
        client_id="cid", client_secret="s", token_endpoint_auth_method="client_secret_post"
    )
    req = tokens.refresh_request(META, post, refresh_token="rt")
    assert req.form["client_secret"] == "s" and "Authorization" not in req.headers
    public = ClientRegistration(client_id="cid", token_endpoint_auth_method="none")
    req = tokens.revocation_request(META, public, token="rt")
    assert req.form == {"token": "rt", "token_type_hint": "refresh_token", "client_id": "cid"}
    assert req.url == META.revocation_endpoint


def test_token_success_computes_expiry_and_keeps_refresh_when_not_rotated() -> None:
    answer = {"access_token": "at", "token_type": "bearer", "expires_in": 100}
    ts = tokens.parse_token_response(
        200, body(answer), now=1000.0, client_id="c", previous_refresh_token="old"
    )
    assert (ts.expires_at, ts.refresh_token, ts.client_id) == (1100.0, "old", "c")
    ts = tokens.parse_token_response(
        200, body({"access_token": "a", "expiry": "2025-01-02T03:04:05.123456789Z"}), now=0.0, client_id=None
    )
    assert ts.expires_at == pytest.approx(1735787045.123456)


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[]", b'{"token_type":"Bearer"}', b'{"access_token":"a","token_type":"mac"}']
)
def test_malformed_token_success_body_is_an_error(raw: bytes) -> None:
    with pytest.raises(InvalidMetadataError):
        tokens.parse_token_response(200, raw, now=0, client_id=None)


def test_token_errors_become_typed_exceptions() -> None:
    grant = body({"error": "invalid_grant", "error_description": "The refresh token is invalid or expired"})
    with pytest.raises(InvalidGrantError, match="Log in again") as info:
        tokens.parse_token_response(400, grant, now=0, client_id=None)
    assert info.value.status == 400 and not is_transient(info.value)
    with pytest.raises(InvalidClientError):
        tokens.parse_token_response(401, body({"error": "invalid_client"}), now=0, client_id=None)
    with pytest.raises(OAuthError) as info:
        tokens.parse_token_response(500, body({"message": "Failed to exchange token"}), now=0, client_id=None)
    assert info.value.error == "server_error" and is_transient(info.value)
    assert is_transient(TransportError("down"))


def test_revocation_200_is_success_and_errors_are_typed() -> None:
    tokens.parse_revocation(200, b"")
    with pytest.raises(InvalidClientError):
        tokens.parse_revocation(401, body({"error": "invalid_client"}))
