"""Fixtures shared by the integration tests.

``coder_fake`` is the package's own pytest plugin fixture (options with
``@pytest.mark.coder_fake(...)``), never redefined here or in a test module. Plain helpers that
play the user on Coder's consent page live in ``oauthhelpers.py`` (importable by test modules,
which a conftest is not).
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # The plugin is an entry point once the package is installed; register it by hand otherwise.
    if not config.pluginmanager.has_plugin("coder_jupyter_fake"):
        from coder_jupyter.testing import pytest_plugin

        config.pluginmanager.register(pytest_plugin, "coder_jupyter_fake")
