"""The JupyterLab command "Coder: Use this login in terminals", in a real browser (issue #14): run
through JupyterLab's command registry (what the palette calls), it asks before replacing a session
the user made with ``coder login``, then writes the Coder CLI's config for terminals; "Stop using
this login in terminals" removes it.

The session server's environment sets ``CODER_CONFIG_DIR=<tmp>/coderv2`` (tests/ui/conftest.py),
which is the directory terminals would use.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

JupyterServer = Any  # tests/ui/conftest.py


@pytest.fixture
def logged_in(jupyter_server: JupyterServer, ui_fake: Any) -> Iterator[Path]:
    """A saved API token login in the server's store; yields the terminals' CLI config directory."""
    from coder_jupyter._config import CoderConfig
    from coder_jupyter._login import AuthManager

    shutil.rmtree(jupyter_server.store, ignore_errors=True)
    cli_dir = Path(jupyter_server.store).parent / "coderv2"
    shutil.rmtree(cli_dir, ignore_errors=True)
    AuthManager(ui_fake.url, config=CoderConfig(data_dir=str(jupyter_server.store))).login_with_token(
        ui_fake.session_token)
    yield cli_dir
    shutil.rmtree(jupyter_server.store, ignore_errors=True)
    shutil.rmtree(cli_dir, ignore_errors=True)


def _run_command(page: Any, command: str) -> None:
    """Run a JupyterLab command as the palette does (not awaited: it may open a dialog)."""
    page.evaluate("(id) => { void window.jupyterapp.commands.execute(id); }", command)


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_use_this_login_in_terminals_asks_before_replacing_a_coder_login(
    page: Any, jupyter_server: JupyterServer, ui_fake: Any, logged_in: Path
) -> None:
    cli_dir = logged_in
    cli_dir.mkdir(parents=True)
    (cli_dir / "url").write_text(ui_fake.url)
    (cli_dir / "session").write_text("users-own-session")  # `coder login` in a terminal
    page.goto(f"{jupyter_server.url}lab?token={jupyter_server.token}")
    page.locator(".coder-jupyter-status", has_text=f"Coder: {ui_fake.username}").wait_for()
    labels = page.evaluate("() => ['coder-jupyter:cli-terminals', 'coder-jupyter:cli-off']"
                           ".map(id => window.jupyterapp.commands.label(id))")
    assert labels == ["Use this login in terminals", "Stop using this login in terminals"]

    # When the user runs the command and declines
    _run_command(page, "coder-jupyter:cli-terminals")
    dialog = page.locator(".jp-Dialog", has_text="Replace the Coder CLI login in terminals?")
    dialog.wait_for()
    assert "coder login" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()

    # Then nothing changed
    dialog.wait_for(state="detached")
    assert (cli_dir / "session").read_text() == "users-own-session"

    # When they run it again and confirm
    _run_command(page, "coder-jupyter:cli-terminals")
    dialog.wait_for()
    dialog.get_by_role("button", name="Replace").click()

    # Then terminals' CLI config holds the notebook's login, exactly as the CLI reads it
    _wait_for(lambda: (cli_dir / "session").read_text() == ui_fake.session_token)
    assert (cli_dir / "url").read_text() == ui_fake.url
    page.locator(".jp-toast-message", has_text="terminals now uses this login").wait_for()

    # When they stop it
    _run_command(page, "coder-jupyter:cli-off")

    # Then our copy is removed
    _wait_for(lambda: not (cli_dir / "session").exists())
