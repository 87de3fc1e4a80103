"""The one place where requests are sent and transport failures become :mod:`coder_jupyter.errors`.

A *flow* is a generator that yields :class:`httpx.Request` objects and receives the matching
:class:`httpx.Response` (the httpx ``auth_flow`` idea); its return value is the flow's result.
:func:`drive` runs a flow on a sync client, :func:`adrive` on an async client — the protocol
logic is written once and shared by both.

Two more things live here because they are about the wire, not about any one API call:

* **Retries** (:class:`RetryPolicy`, opt-in per call): idempotent requests (GET, HEAD, PUT,
  DELETE, OPTIONS) are sent again after a connection error or a 429/502/503/504 answer, with
  bounded exponential backoff and full jitter; ``Retry-After`` is honoured up to a cap. A POST
  or PATCH is never repeated: Coder might have acted on it already.
* **Coder API error mapping** (:func:`raise_for_status`): a non-2xx answer from ``/api/v2``
  becomes a :class:`~coder_jupyter.errors.CoderAPIError` subclass carrying the status, Coder's
  ``message``/``detail``/``validations`` and a hint. Messages never include request headers
  (tokens live there) and print URLs without their query string.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import ssl
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec

from ._limits import (
    Limits,
    Watchdog,
    aread_capped,
    client_sockets,
    deadline_error,
    limits_of,
    read_capped,
)
from ._oauth.responses import printable
from ._public import safe_url as url_without_query
from .errors import (
    AuthenticationError,
    CoderAPIError,
    CoderError,
    NotFoundError,
    NotLoggedInError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)

T = TypeVar("T")
Flow = Generator[httpx.Request, httpx.Response, T]

__all__ = [
    "Flow",
    "RetryPolicy",
    "adrive",
    "check_expected",
    "drive",
    "not_logged_in_message",
    "raise_for_status",
    "unexpected_response",
    "url_without_query",
]

#: Headers that carry a credential; a request without any of them was sent unauthenticated.
_CREDENTIAL_HEADERS = ("coder-session-token", "authorization")


#: What a broken connection raises. httpx maps most TLS failures to its own errors, but a TLS
#: alert that arrives after the handshake (TLS 1.3: "certificate required" when mTLS is expected
#: and no client certificate was configured) can surface from the async stack as ssl.SSLError.
_NETWORK_ERRORS = (httpx.TransportError, ssl.SSLError)


def _transport_error(exc: httpx.TransportError | ssl.SSLError, request: httpx.Request) -> TransportError:
    where = url_without_query(request.url)
    kind = type(exc).__name__
    return TransportError(
        f"Could not reach {where} ({kind}). Check the deployment URL, your network and TLS settings.",
        url=where,
    )


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending an idempotent request again.

    Attempt ``n`` (0-based) that failed waits ``uniform(0, min(cap, base * 2**n))`` seconds ("full
    jitter"), or the server's ``Retry-After`` when it sent one, capped at ``retry_after_cap``
    (a server asking for ten minutes should surface as an error, not a frozen notebook cell).

    Args:
        attempts: total tries, the first one included (``1`` disables retries).
        base: the first backoff step, in seconds.
        cap: the largest backoff step, in seconds.
        retry_after_cap: the longest ``Retry-After`` honoured; longer waits are not attempted.
        statuses: answers worth retrying.
        methods: methods safe to repeat (RFC 9110 §9.2.2 idempotent methods).
    """

    attempts: int = 4
    base: float = 0.2
    cap: float = 3.0
    retry_after_cap: float = 30.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    methods: frozenset[str] = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay after failed attempt number ``attempt`` (0-based)."""
        return random.uniform(0.0, min(self.cap, self.base * (2**attempt)))  # noqa: S311 - jitter, not crypto

    def delay(self, request: httpx.Request, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retrying, or ``None`` when the request must not be retried.

        ``response`` is ``None`` after a connection error.
        """
        if request.method not in self.methods or attempt + 1 >= self.attempts:
            return None
        if response is None:
            return self.backoff(attempt)
        if response.status_code not in self.statuses:
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.retry_after_cap else None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` (delta-seconds or an HTTP-date, RFC 9110 §10.2.3) as seconds, or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --------------------------------------------------------------------------- one exchange


def _send(client: httpx.Client, request: httpx.Request, limits: Limits) -> httpx.Response:
    """Send ``request`` and read its body within ``limits``."""
    url = url_without_query(request.url)
    with Watchdog(request, limits.deadline, client_sockets(client)) as watchdog:
        try:
            response = client.send(request, stream=True)
            read_capped(response, limits, url=url, expired=watchdog.expired)
        except _NETWORK_ERRORS:
            if watchdog.expired():  # the watchdog shut the socket down
                raise deadline_error(request, limits.deadline, url) from None
            raise
    return response


async def _asend(client: httpx.AsyncClient, request: httpx.Request, limits: Limits) -> httpx.Response:
    """Async twin of :func:`_send` (the deadline is an :func:`asyncio.wait_for`)."""
    url = url_without_query(request.url)
    started = time.monotonic()

    def expired() -> bool:
        return time.monotonic() - started > limits.deadline

    async def exchange() -> httpx.Response:
        response = await client.send(request, stream=True)
        await aread_capped(response, limits, url=url, expired=expired)
        return response

    try:
        return await asyncio.wait_for(exchange(), limits.deadline)
    except asyncio.TimeoutError as exc:
        if isinstance(exc, CoderError):
            raise
        raise deadline_error(request, limits.deadline, url) from None


def unexpected_response(response: httpx.Response, why: str) -> UnexpectedResponseError:
    """The error for an answer the call cannot use, naming the method, the URL without its
    query, the status and the content type."""
    request = response.request
    url = url_without_query(request.url)
    content_type = printable(response.headers.get("content-type", ""), 100)
    return UnexpectedResponseError(
        f"{request.method} {url} answered {response.status_code} "
        f"({content_type or 'no content type'}): {why}. Check the deployment URL (CODER_URL); a "
        "proxy, a captive portal or a login page may be answering in Coder's place.",
        method=request.method, url=url, status=response.status_code, content_type=content_type,
    )


def _wants_json(request: httpx.Request) -> bool:
    return "json" in request.headers.get("accept", "").lower()


def check_expected(response: httpx.Response) -> None:
    """Refuse answers no call expects: a redirect (1xx/3xx) and a non-empty success body that
    declares a non-JSON content type to a request that asked for JSON.

    Redirects are never followed (the clients are built with ``follow_redirects=False``), so a
    credential never travels to the ``Location``'s origin; this turns the 3xx into an error
    instead of an empty result.

    Raises:
        UnexpectedResponseError: naming the method, URL, status and content type.
    """
    status = response.status_code
    if status < 200 or 300 <= status < 400:
        target = ""
        with contextlib.suppress(httpx.InvalidURL, ValueError):
            location = httpx.URL(response.headers.get("location", ""))
            target = f" to {printable(url_without_query(location), 200)}" if location.is_absolute_url else ""
        raise unexpected_response(response, f"a redirect{target}, which is not followed (credentials "
                                            "are only sent to the deployment itself)")
    content_type = response.headers.get("content-type", "").lower()
    if (status < 300 and content_type and "json" not in content_type and _wants_json(response.request)
            and response.content.strip()):
        raise unexpected_response(response, "not the JSON this call expects")


# --------------------------------------------------------------------------- drivers


def _refuse_downgrade(request: httpx.Request, client: httpx.Client | httpx.AsyncClient) -> None:
    # The last line of the no-downgrade rule (see _oauth.metadata): a client made for an https
    # deployment sends nothing in clear text, whichever URL a server's answer pointed it to.
    if client.base_url.scheme == "https" and request.url.scheme != "https":
        where = url_without_query(request.url)
        raise TransportError(
            f"Refusing to send {request.method} {where} in clear text: the deployment "
            f"{url_without_query(client.base_url)} uses https, and coder_jupyter never sends a "
            "request (it may carry a code, secret or token) to a plain-http address for it.",
            url=where,
        )


def _with_client_defaults(request: httpx.Request, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
    # Flows build bare requests; the client's own headers (User-Agent, CODER_HEADER extras)
    # still apply, without overriding what the flow set.
    _refuse_downgrade(request, client)
    for name, value in client.headers.items():
        if name not in request.headers:
            request.headers[name] = value
    return request


def drive(flow: Flow[T], client: httpx.Client, *, retry: RetryPolicy | None = None) -> T:
    """Run ``flow`` to completion on ``client`` and return its result.

    Args:
        flow: the generator to run.
        client: sends the requests (its ``auth`` signs them).
        retry: retry idempotent requests on connection errors and 429/502/503/504; ``None``
            (the default) sends every request once.

    Every request is bounded by the client's :class:`~coder_jupyter._limits.Limits` (response
    size cap, per-request deadline; see :func:`coder_jupyter._limits.attach`), and every answer
    that cannot be what the flow expects is refused before the flow sees it
    (:func:`check_expected`).

    Raises:
        TransportError: the deployment could not be reached (after the retries, if any).
        ResponseTooLargeError: an answer exceeded the size cap (never retried).
        DeadlineExceededError: a request outlived the deadline (never retried).
        UnexpectedResponseError: a redirect, or a non-JSON success answer to a JSON request.
    """
    limits = limits_of(client)
    try:
        request = next(flow)
        while True:
            _with_client_defaults(request, client)
            attempt = 0
            while True:
                try:
                    response = _send(client, request, limits)
                except _NETWORK_ERRORS as exc:
                    wait = retry.delay(request, attempt, None) if retry else None
                    if wait is None:
                        raise _transport_error(exc, request) from None
                else:
                    wait = retry.delay(request, attempt, response) if retry else None
                    if wait is None:
                        break
                    response.close()
                time.sleep(wait)
                attempt += 1
            check_expected(response)
            request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def adrive(flow: Flow[T], client: httpx.AsyncClient, *, retry: RetryPolicy | None = None) -> T:
    """Async twin of :func:`drive` (same arguments, same retries)."""
    limits = limits_of(client)
    try:
        request = next(flow)
        while True:
            _with_client_defaults(request, client)
            attempt = 0
            while True:
                try:
                    response = await _asend(client, request, limits)
                except _NETWORK_ERRORS as exc:
                    wait = retry.delay(request, attempt, None) if retry else None
                    if wait is None:
                        raise _transport_error(exc, request) from None
                else:
                    wait = retry.delay(request, attempt, response) if retry else None
                    if wait is None:
                        break
                    await response.aclose()
                await asyncio.sleep(wait)
                attempt += 1
            check_expected(response)
            request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


# --------------------------------------------------------------------------- Coder API errors


class _Validation(msgspec.Struct):
    field: str = ""
    detail: str = ""


class _CoderResponse(msgspec.Struct):
    """``codersdk.Response``: the body of every Coder API error."""

    message: str | None = None
    detail: str | None = None
    validations: list[_Validation] | None = None


def not_logged_in_message(deployment_url: str) -> str:
    """The message of :class:`~coder_jupyter.errors.NotLoggedInError` for ``deployment_url``."""
    return (
        f'Not logged in to {deployment_url} — click "Log in" on the widget above, run %coder login, '
        "or set CODER_SESSION_TOKEN."
    )


def _hint(status: int, what: str | None) -> str | None:
    if status == 401:
        return (
            "Your session expired or was revoked: log in again (the widget's Log in button or "
            "%coder login), or set a fresh CODER_SESSION_TOKEN."
        )
    if status == 403:
        return "Your Coder role does not allow this. Ask a Coder administrator for the permission."
    if status == 404:
        return (
            f"Check that {what} exists and that you can see it (names are owner/name; ids are UUIDs)."
            if what
            else "Check the name or id, and that you can access it."
        )
    if status == 409:
        return "The resource changed or is busy (e.g. a build is already running). Wait and try again."
    if status == 429:
        return "Coder is rate limiting you: wait a little and try again."
    if status >= 500:
        return "The deployment failed to answer. Try again later, or ask a Coder administrator."
    if status in (400, 422):
        return "Fix the fields listed above and try again."
    return None


def _parse_body(response: httpx.Response) -> _CoderResponse:
    try:
        return msgspec.json.decode(response.content, type=_CoderResponse)
    except msgspec.DecodeError:
        return _CoderResponse()


def raise_for_status(
    response: httpx.Response, *, what: str | None = None, deployment_url: str | None = None
) -> None:
    """Raise the :class:`~coder_jupyter.errors.CoderAPIError` matching a non-2xx Coder answer.

    Args:
        response: a read response from the Coder REST API.
        what: the thing the request was about, for 404 messages (e.g. ``workspace "alice/dev"``).
        deployment_url: the deployment, named in :class:`NotLoggedInError`'s message.

    Raises:
        NotLoggedInError: 401 to a request that carried no credential at all.
        AuthenticationError: 401 (hint: log in again).
        PermissionDeniedError: 403.
        NotFoundError: 404, naming ``what``.
        ValidationError: 400/422 (with Coder's ``validations``).
        RateLimitedError: 429 (with ``retry_after``).
        ServerError: 5xx.
        CoderAPIError: any other error status.
    """
    status = response.status_code
    if status < 400:
        return
    request = response.request
    method, url = request.method, url_without_query(request.url)
    if status == 401 and not any(h in request.headers for h in _CREDENTIAL_HEADERS):
        base = deployment_url or url_without_query(request.url.copy_with(path="/"))
        raise NotLoggedInError(not_logged_in_message(base.rstrip("/")))
    body = _parse_body(response)
    validations = [{"field": v.field, "detail": v.detail} for v in body.validations or ()]
    hint = _hint(status, what)
    lead = f"{what[0].upper()}{what[1:]} was not found" if status == 404 and what else None
    parts = [lead or f"{method} {url} failed with {status} {response.reason_phrase}".rstrip()]
    # The server's words go into the message as one printable line each (no terminal escapes, no
    # multi-megabyte text); the attributes below keep them as sent.
    if body.message:
        parts.append(f": {printable(body.message)}")
    if body.detail:
        parts.append(f" ({printable(body.detail)})")
    text = "".join(parts)
    for v in validations[:20]:
        text += f"\n  - {printable(v['field'], 100)}: {printable(v['detail'])}"
    if hint:
        text += f"\n{hint}"
    kwargs: dict[str, Any] = {
        "status": status,
        "server_message": body.message,
        "detail": body.detail,
        "validations": validations,
        "hint": hint,
        "method": method,
        "url": url,
        "response": response,
    }
    cls: type[CoderAPIError] = _ERRORS.get(status, ServerError if status >= 500 else CoderAPIError)
    if cls is RateLimitedError:
        raise RateLimitedError(
            text, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs
        )
    raise cls(text, **kwargs)


_ERRORS: Mapping[int, type[CoderAPIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitedError,
}
