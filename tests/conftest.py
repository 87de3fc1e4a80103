"""Suite-wide hygiene (no test reads or writes the developer's real credentials or Coder config)
and the one browser launcher the browser tests (tests/ui, tests/hub) share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Debian's chromium; Playwright never downloads a browser of its own here.
CHROMIUM = "/usr/bin/chromium"

_ENV_TO_CLEAR = (
    "CODER_URL",
    "CODER_SESSION_TOKEN",
    "CODER_AGENT_TOKEN",
    "CODER_OAUTH_CLIENT_ID",
    "CODER_OAUTH_CLIENT_SECRET",
    "CODER_HEADER",
    "CODER_HEADER_COMMAND",
    "CODER_TLS_CA_FILE",
    "CODER_TLS_CERT_FILE",
    "CODER_TLS_KEY_FILE",
    "CODER_JUPYTER_LOGIN_METHODS",
    "CODER_JUPYTER_MAX_RESPONSE_BYTES",
    "CODER_JUPYTER_REQUEST_DEADLINE",
    "CODER_OAUTH_CANCEL_WITHOUT_STATE",
)


@pytest.fixture(autouse=True)
def _isolated_coder_environment(tmp_path_factory: pytest.TempPathFactory,
                                monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the store and the Coder CLI config at fresh empty directories for every test."""
    home = tmp_path_factory.mktemp("coder-env")
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CODER_JUPYTER_DIR", str(home / "store"))
    monkeypatch.setenv("CODER_CONFIG_DIR", str(home / "coderv2"))
    return home


@pytest.fixture
def cli_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A home of its own for tests of the Coder CLI sharing (``tests/clihelpers.py``): ``HOME`` and
    ``XDG_CONFIG_HOME`` in a fresh directory, ``CODER_CONFIG_DIR`` unset (so the CLI's *default*
    directory applies, inside it), and the stand-in ``coder`` first on ``PATH``."""
    from clihelpers import BIN, CliHome  # tests/ is on sys.path (this conftest's directory)

    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("CODER_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODER_USE_KEYRING", raising=False)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return CliHome(home)


# Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it is
# open, which would break every async test that runs after the module that uses it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium driven by Playwright for Python (skips where chromium is not installed)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()
