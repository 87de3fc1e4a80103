"""Fixtures for the fake Coder's own tests (all over real HTTP with httpx)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from coder_jupyter.testing import FakeCoder


def pytest_configure(config: pytest.Config) -> None:
    # The plugin is an entry point once the package is installed; register it by hand otherwise.
    if not config.pluginmanager.has_plugin("coder_jupyter_fake"):
        from coder_jupyter.testing import pytest_plugin

        config.pluginmanager.register(pytest_plugin, "coder_jupyter_fake")


@pytest.fixture
def http(coder_fake: FakeCoder) -> Iterator[httpx.Client]:
    """Anonymous client (no redirects followed)."""
    with httpx.Client(base_url=coder_fake.url, follow_redirects=False, timeout=10) as client:
        yield client


@pytest.fixture
def api(coder_fake: FakeCoder) -> Iterator[httpx.Client]:
    """Client authenticated as the owner with its session token."""
    headers = {"Coder-Session-Token": coder_fake.session_token}
    with httpx.Client(base_url=coder_fake.url, headers=headers, timeout=10) as client:
        yield client
