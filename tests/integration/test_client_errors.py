"""Error mapping and retries of the `coder` client against the fake Coder over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coder_jupyter.client import AsyncCoder, Coder, RetryPolicy
from coder_jupyter.errors import (
    AuthenticationError,
    CoderAPIError,
    NotFoundError,
    NotLoggedInError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from coder_jupyter.testing import FakeCoder, fake_coder

FAST = RetryPolicy(base=0.01, cap=0.05)
LIST = r"^/api/v2/workspaces$"


@pytest.fixture
def fake() -> Iterator[FakeCoder]:
    with fake_coder(workspaces=2, users=["bob"], build_step_seconds=0.05) as f:
        yield f


@pytest.fixture
def coder(fake: FakeCoder) -> Iterator[Coder]:
    with Coder(fake.url, token=fake.session_token, retry=FAST) as c:
        yield c


def gets(fake: FakeCoder, route: str = "/api/v2/workspaces") -> int:
    return fake.request_counts()["GET", route]


# ---------------------------------------------------------------- status → error


def test_calls_before_login_raise_not_logged_in(fake: FakeCoder) -> None:
    with Coder(fake.url) as coder, pytest.raises(NotLoggedInError) as caught:
        coder.me()
    assert str(caught.value) == (
        f'Not logged in to {fake.url} — click "Log in" on the widget above, run %coder login, '
        "or set CODER_SESSION_TOKEN."
    )


def test_a_rejected_token_says_log_in_again_without_echoing_it(fake: FakeCoder) -> None:
    token = "abcdefghij-" + "x" * 22
    with Coder(fake.url, token=token) as coder, pytest.raises(AuthenticationError) as caught:
        coder.me()
    err = caught.value
    assert err.status == 401 and err.server_message and "signed out" in err.server_message
    assert "log in again" in str(err) and err.hint
    assert token not in str(err) and token not in repr(err.args)


def test_forbidden_explains_permissions(fake: FakeCoder) -> None:
    with Coder(fake.url, token=fake.user("bob").session_token) as bob, \
            pytest.raises(PermissionDeniedError) as caught:
        bob.create_workspace("stolen", "docker", owner="admin", wait=False)
    assert caught.value.status == 403 and "administrator" in str(caught.value)


def test_not_found_names_the_missing_workspace(coder: Coder) -> None:
    with pytest.raises(NotFoundError) as caught:
        coder.workspace("admin/nope")
    assert isinstance(caught.value, LookupError)
    assert str(caught.value).startswith('Workspace "admin/nope" was not found')
    assert caught.value.url and "?" not in caught.value.url


def test_a_bad_search_query_carries_coders_validations(coder: Coder) -> None:
    with pytest.raises(ValidationError) as caught:
        coder.workspaces("colour:blue")
    err = caught.value
    assert isinstance(err, ValueError) and err.status == 400
    detail = 'Query param "colour" is not a valid query param'
    assert err.validations == [{"field": "colour", "detail": detail}]
    assert "colour: Query param" in str(err)


def test_an_invalid_workspace_name_is_a_validation_error(coder: Coder) -> None:
    with pytest.raises(ValidationError) as caught:
        coder.create_workspace("Not A Name!", "docker", wait=False)
    assert [v["field"] for v in caught.value.validations] == ["name"]


def test_a_long_retry_after_is_not_waited_for(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("ratelimit", LIST, retry_after=3600)
    with pytest.raises(RateLimitedError) as caught:
        coder.workspaces()
    assert caught.value.retry_after == 3600 and caught.value.status == 429
    assert gets(fake) == 1


def test_a_persistent_500_is_a_server_error_without_retry(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("error", LIST, status=500)
    with pytest.raises(ServerError) as caught:
        coder.workspaces()
    assert caught.value.status == 500 and gets(fake) == 1


def test_an_unreachable_deployment_is_a_transport_error() -> None:
    with fake_coder() as f:
        url, token = f.url, f.session_token
    with Coder(url, token=token, retry=FAST) as coder, pytest.raises(TransportError) as caught:
        coder.me()
    assert "Could not reach" in str(caught.value)


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [502, 503, 504])
def test_idempotent_requests_retry_on_gateway_errors(fake: FakeCoder, coder: Coder, status: int) -> None:
    fake.add_fault("error", LIST, "GET", count=2, status=status)
    assert len(coder.workspaces()) == 2
    assert gets(fake) == 3


def test_retries_are_bounded(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("error", LIST, "GET", status=503)
    with pytest.raises(ServerError):
        coder.workspaces()
    assert gets(fake) == FAST.attempts


def test_429_is_retried_after_retry_after(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("ratelimit", LIST, count=1, retry_after=0)
    assert len(coder.workspaces()) == 2
    assert gets(fake) == 2


def test_a_dropped_connection_is_retried_for_get(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("drop", "^/api/v2/users/me$", count=1)
    assert coder.me().username == fake.username


def test_post_is_never_retried(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("error", r"/builds$", "POST", count=1, status=503)
    with pytest.raises(ServerError):
        coder.stop("workspace-1", wait=False)
    assert fake.request_counts()["POST", "/api/v2/workspaces/{id}/builds"] == 1


def test_a_dropped_post_is_a_transport_error(fake: FakeCoder, coder: Coder) -> None:
    fake.add_fault("drop", r"/builds$", "POST", count=1)
    with pytest.raises(TransportError):
        coder.stop("workspace-1", wait=False)


async def test_async_twin_retries_gets_and_not_posts(fake: FakeCoder) -> None:
    fake.add_fault("error", LIST, "GET", count=1, status=503)
    fake.add_fault("error", r"/builds$", "POST", count=1, status=503)
    async with AsyncCoder(fake.url, token=fake.session_token, retry=FAST) as coder:
        assert len(await coder.workspaces()) == 2
        with pytest.raises(ServerError):
            await coder.stop("workspace-1", wait=False)
    assert gets(fake) == 2
    assert fake.request_counts()["POST", "/api/v2/workspaces/{id}/builds"] == 1


async def test_async_twin_maps_errors(fake: FakeCoder) -> None:
    async with AsyncCoder(fake.url, token=fake.session_token) as coder:
        with pytest.raises(NotFoundError, match='Workspace "nope" was not found'):
            await coder.workspace("nope")
    async with AsyncCoder(fake.url) as anonymous:
        with pytest.raises(NotLoggedInError):
            await anonymous.me()


def test_every_api_error_is_a_coder_api_error() -> None:
    for cls in (AuthenticationError, PermissionDeniedError, NotFoundError, ValidationError,
                RateLimitedError, ServerError):
        assert issubclass(cls, CoderAPIError)
