"""The one place where requests are sent and transport failures become :mod:`coder_jupyter.errors`.

A *flow* is a generator that yields :class:`httpx.Request` objects and receives the matching
:class:`httpx.Response` (the httpx ``auth_flow`` idea); its return value is the flow's result.
:func:`drive` runs a flow on a sync client, :func:`adrive` on an async client — the protocol
logic is written once and shared by both.

(Lead's seed: the client engineer owns this module and extends it with retries and the Coder
API error mapping.)
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

import httpx

from .errors import TransportError

T = TypeVar("T")
Flow = Generator[httpx.Request, httpx.Response, T]

__all__ = ["Flow", "adrive", "drive", "url_without_query"]


def url_without_query(url: httpx.URL | str) -> str:
    """The URL with query and fragment removed: safe to print (codes/tokens live in queries)."""
    return str(httpx.URL(str(url)).copy_with(query=None, fragment=None))


def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> TransportError:
    where = url_without_query(request.url)
    kind = type(exc).__name__
    return TransportError(
        f"Could not reach {where} ({kind}). Check the deployment URL, your network and TLS settings.",
        url=where,
    )


def drive(flow: Flow[T], client: httpx.Client) -> T:
    """Run ``flow`` to completion on ``client`` and return its result."""
    try:
        request = next(flow)
        while True:
            try:
                response = client.send(request)
                response.read()
            except httpx.TransportError as exc:
                raise _transport_error(exc, request) from None
            request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()


async def adrive(flow: Flow[T], client: httpx.AsyncClient) -> T:
    """Async twin of :func:`drive`."""
    try:
        request = next(flow)
        while True:
            try:
                response = await client.send(request)
                await response.aread()
            except httpx.TransportError as exc:
                raise _transport_error(exc, request) from None
            request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
