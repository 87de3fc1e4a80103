"""`_transport`: the retry policy, the Coder error mapping and the drivers.

No sockets: the drivers run over :class:`httpx.MockTransport`."""

from __future__ import annotations

import json

import httpx
import pytest

from coder_jupyter._transport import (
    Flow,
    RetryPolicy,
    adrive,
    drive,
    parse_retry_after,
    raise_for_status,
    url_without_query,
)
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

URL = "https://coder.example.com/api/v2/workspaces?q=owner:me&access_token=SECRET"
NO_JITTER = RetryPolicy(base=0.0, cap=0.0)


def response(status: int, body: bytes = b"", *, method: str = "GET", headers: dict[str, str] | None = None,
             token: str | None = "SECRET-TOKEN") -> httpx.Response:
    request = httpx.Request(method, URL, headers={"Coder-Session-Token": token} if token else {})
    return httpx.Response(status, content=body, headers=headers, request=request)


def get_flow(url: str = "https://coder.example.com/x", method: str = "GET") -> Flow[int]:
    resp = yield httpx.Request(method, url)
    return resp.status_code


def counting(statuses: list[int | Exception]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = statuses[min(len(seen), len(statuses)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, headers={"Retry-After": "0"} if outcome == 429 else None)

    return httpx.MockTransport(handler), seen


# ---------------------------------------------------------------- retry policy


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_idempotent_methods_retry_on_retryable_statuses(method: str, status: int) -> None:
    assert NO_JITTER.delay(httpx.Request(method, URL), 0, response(status)) == 0.0


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_idempotent_methods_never_retry(method: str) -> None:
    request = httpx.Request(method, URL)
    assert NO_JITTER.delay(request, 0, response(503)) is None
    assert NO_JITTER.delay(request, 0, None) is None


@pytest.mark.parametrize("status", [200, 400, 401, 404, 500, 501])
def test_other_statuses_are_final(status: int) -> None:
    assert NO_JITTER.delay(httpx.Request("GET", URL), 0, response(status)) is None


def test_connection_errors_retry_until_attempts_run_out() -> None:
    policy = RetryPolicy(attempts=3, base=0.0)
    request = httpx.Request("GET", URL)
    assert [policy.delay(request, n, None) for n in range(3)] == [0.0, 0.0, None]


def test_backoff_is_jittered_exponential_and_capped() -> None:
    policy = RetryPolicy(base=0.5, cap=2.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 2.0)]:
        assert all(0.0 <= policy.backoff(attempt) <= ceiling for _ in range(50))


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = RetryPolicy(retry_after_cap=10)
    request = httpx.Request("GET", URL)
    assert policy.delay(request, 0, response(429, headers={"Retry-After": "7"})) == 7.0
    assert policy.delay(request, 0, response(503, headers={"Retry-After": "11"})) is None


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# ---------------------------------------------------------------- drivers


def test_drive_retries_then_returns_the_flow_result() -> None:
    transport, seen = counting([503, 429, 200])
    with httpx.Client(transport=transport) as client:
        assert drive(get_flow(), client, retry=NO_JITTER) == 200
    assert len(seen) == 3


def test_drive_without_a_policy_sends_once() -> None:
    transport, seen = counting([503, 200])
    with httpx.Client(transport=transport) as client:
        assert drive(get_flow(), client) == 503
    assert len(seen) == 1


def test_drive_retries_connection_errors_and_then_gives_up_with_a_clean_message() -> None:
    transport, seen = counting([httpx.ConnectError("refused")])
    with httpx.Client(transport=transport) as client, pytest.raises(TransportError) as caught:
        drive(get_flow("https://coder.example.com/x?token=SECRET"), client, retry=NO_JITTER)
    assert len(seen) == NO_JITTER.attempts
    assert "SECRET" not in str(caught.value) and caught.value.url == "https://coder.example.com/x"


def test_drive_applies_the_clients_default_headers() -> None:
    transport, seen = counting([200])
    with httpx.Client(transport=transport, headers={"X-Proxy": "1", "User-Agent": "ua"}) as client:
        drive(get_flow(), client)
    assert seen[0].headers["X-Proxy"] == "1" and seen[0].headers["User-Agent"] == "ua"


async def test_adrive_is_the_same_loop() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(502 if len(seen) == 1 else 204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await adrive(get_flow(), client, retry=NO_JITTER) == 204
        assert await adrive(get_flow(method="POST"), client, retry=NO_JITTER) == 204
    assert len(seen) == 3


# ---------------------------------------------------------------- error mapping

ERROR_BODY = (
    b'{"message":"Validation failed.","detail":"see fields",'
    b'"validations":[{"field":"name","detail":"bad"}]}'
)


@pytest.mark.parametrize(
    ("status", "cls", "hint"),
    [
        (400, ValidationError, "Fix the fields"),
        (401, AuthenticationError, "log in again"),
        (403, PermissionDeniedError, "administrator"),
        (404, NotFoundError, "Check that"),
        (409, CoderAPIError, "Wait and try again"),
        (429, RateLimitedError, "rate limiting"),
        (500, ServerError, "Try again later"),
        (503, ServerError, "Try again later"),
        (418, CoderAPIError, None),
    ],
)
def test_status_codes_map_to_typed_errors(status: int, cls: type[CoderAPIError], hint: str | None) -> None:
    with pytest.raises(cls) as caught:
        raise_for_status(response(status, ERROR_BODY), what='workspace "a/b"')
    err = caught.value
    assert type(err) is cls and err.status == status
    assert (err.server_message, err.detail) == ("Validation failed.", "see fields")
    assert err.validations == [{"field": "name", "detail": "bad"}]
    assert err.hint == hint or (hint is not None and err.hint is not None and hint in err.hint)
    assert "SECRET" not in str(err) and err.url == "https://coder.example.com/api/v2/workspaces"


def test_not_found_names_what_was_looked_for() -> None:
    with pytest.raises(NotFoundError, match=r'^Workspace "alice/dev" was not found: Resource not found'):
        raise_for_status(response(404, b'{"message":"Resource not found"}'), what='workspace "alice/dev"')


def test_401_without_any_credential_means_not_logged_in() -> None:
    with pytest.raises(NotLoggedInError, match=r"^Not logged in to https://coder.example.com — click"):
        raise_for_status(response(401, token=None), deployment_url="https://coder.example.com")


def test_server_text_in_error_messages_is_one_printable_bounded_line() -> None:
    # Given a hostile server whose message carries terminal escapes and a megabyte of detail
    hostile = json.dumps({"message": "boom\x1b[2J\x1b]0;pwned\x07", "detail": "x" * 1_000_000,
                          "validations": [{"field": f"f{i}", "detail": "bad\r\nline"} for i in range(500)]})
    # When
    with pytest.raises(ValidationError) as caught:
        raise_for_status(response(400, hostile.encode()))
    # Then the message stays readable and bounded, while the attributes keep what was sent
    text = str(caught.value)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert len(text) < 10_000
    assert caught.value.detail == "x" * 1_000_000 and len(caught.value.validations) == 500


def test_non_json_error_bodies_still_map() -> None:
    with pytest.raises(ServerError) as caught:
        raise_for_status(response(502, b"<html>Bad gateway</html>"))
    assert caught.value.server_message is None and "502" in str(caught.value)


def test_rate_limited_carries_retry_after() -> None:
    with pytest.raises(RateLimitedError) as caught:
        raise_for_status(response(429, headers={"Retry-After": "12"}))
    assert caught.value.retry_after == 12.0


def test_success_does_not_raise() -> None:
    for status in (200, 201, 204, 304):
        raise_for_status(response(status))


def test_urls_are_printed_without_query() -> None:
    assert url_without_query(URL) == "https://coder.example.com/api/v2/workspaces"

