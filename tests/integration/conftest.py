"""Fixtures shared by the integration tests.

``coder_fake`` is the package's own pytest plugin fixture (options with
``@pytest.mark.coder_fake(...)``), never redefined here or in a test module. Plain helpers that
play the user on Coder's consent page live in ``oauthhelpers.py`` (importable by test modules,
which a conftest is not).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse

#: ``fetch(path, **jp_fetch options)`` → the server's response.
Fetch = Callable[..., HTTPResponse]


def pytest_configure(config: pytest.Config) -> None:
    # The plugin is an entry point once the package is installed; register it by hand otherwise.
    if not config.pluginmanager.has_plugin("coder_jupyter_fake"):
        from coder_jupyter.testing import pytest_plugin

        config.pluginmanager.register(pytest_plugin, "coder_jupyter_fake")


@pytest.fixture
def fetch(jp_fetch: Any, jp_asyncio_loop: Any) -> Fetch:
    """``fetch("coder/api/status")`` → the response, whatever its status (no exception on 4xx).

    For modules that load pytest-jupyter's server fixtures (``jp_fetch``)."""
    # tornado's client makes its Future on the current loop; an earlier async test may have left
    # the main thread without one.
    asyncio.set_event_loop(jp_asyncio_loop)

    def run(*parts: str, **kwargs: Any) -> HTTPResponse:
        kwargs.setdefault("raise_error", False)
        kwargs.setdefault("follow_redirects", False)
        response: HTTPResponse = jp_asyncio_loop.run_until_complete(jp_fetch(*parts, **kwargs))
        return response

    return run
