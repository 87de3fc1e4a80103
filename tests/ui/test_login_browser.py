"""The product as a user meets it, in a real browser: JupyterLab and Notebook 7 under /user/alice/.

``%load_ext coder_jupyter`` → click **Log in** → sign in and **Allow** on the fake Coder's consent
page in the popup → the widget says "Logged in" → a cell lists workspaces → the saved notebook holds
no secret → **Log out** (confirmed) → **Log in** again and **Cancel** on the consent page → "Login
cancelled".
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from coder_jupyter._oauth.scopes import DEFAULT_SCOPES

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
JupyterServer = Any  # tests/ui/conftest.py

# Coder's token shapes: API keys "<10>-<22>", and "coder_<10>_<40>" for refresh tokens, codes, secrets.
SECRET_SHAPES = re.compile(r"\b[A-Za-z0-9]{10}-[A-Za-z0-9]{22}\b|coder_[a-z0-9]{10}_[A-Za-z0-9]{40}")

CELLS = [
    "%load_ext coder_jupyter",
    "ws = coder.workspaces('owner:me')\nprint('WORKSPACES', sorted(w.name for w in ws))",
]


def _write_notebook(root: Path) -> str:
    name = f"login-{uuid.uuid4().hex[:8]}.ipynb"
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8], "metadata": {},
             "outputs": [], "source": src}
            for src in CELLS
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(nb))
    return name


@pytest.fixture(autouse=True)
def _logged_out(jupyter_server: JupyterServer) -> None:
    """Every test starts with an empty credential store."""
    shutil.rmtree(jupyter_server.store, ignore_errors=True)


def _wait_for_kernel(page: Any) -> None:
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
        }""",
        timeout=60_000,
    )


def _run_cell(page: Any, index: int) -> None:
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for()


def _consent(popup: Any, fake: Any, *, allow: bool, shot: str | None = None) -> None:
    popup.locator("#username, #allow").first.wait_for()
    if popup.locator("#username").count():
        popup.fill("#username", fake.username)
        popup.fill("#password", fake.password)
        popup.click("#login")
    popup.locator("#allow").wait_for()
    if shot is not None:  # least privilege: Coder lists what is asked for, not "full access"
        assert "full access" not in popup.locator("body").inner_text()
        assert set(popup.locator("#scopes li").all_inner_texts()) == set(DEFAULT_SCOPES)
        popup.screenshot(path=str(ARTIFACTS / shot))
    popup.click("#allow" if allow else "#cancel")


def _secrets_in_store(store: Path) -> set[str]:
    found: set[str] = set()
    for f in store.rglob("*.json"):
        try:
            data = json.loads(f.read_text())
        except ValueError:
            continue
        if isinstance(data, dict):
            for key in ("access_token", "refresh_token", "client_secret", "code_verifier",
                        "registration_access_token"):
                if isinstance(data.get(key), str) and data[key]:
                    found.add(data[key])
    return found


def _full_flow(page: Any, server: JupyterServer, fake: Any, url: str, flavour: str) -> None:
    # Given a notebook that loads the extension
    page.goto(url)
    _wait_for_kernel(page)
    _run_cell(page, 0)
    widget = page.locator(".coder-jupyter-login")
    widget.locator(".cj-badge-logged_out").wait_for()

    # When the user clicks Log in, signs in and allows
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    popup = popup_info.value
    widget.locator(".cj-badge-waiting").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / f"widget-waiting-{flavour}.png"))
    secrets_seen = _secrets_in_store(server.store)  # the pending login's verifier
    _consent(popup, fake, allow=True, shot=f"consent-default-scopes-{flavour}.png")

    # Then the widget turns to "Logged in", names the Coder user and what the login may do
    widget.locator(".cj-badge-logged_in").wait_for()
    assert fake.username in widget.inner_text()
    assert widget.locator(".cj-scope").inner_text().startswith("Allowed: workspaces: read, create")
    widget.screenshot(path=str(ARTIFACTS / f"widget-logged-in-{flavour}.png"))
    if flavour == "lab":  # JupyterLab's status bar follows (the popup's message triggers a refresh)
        page.locator(".coder-jupyter-status", has_text=f"Coder: {fake.username}").wait_for()
    secrets_seen |= _secrets_in_store(server.store)
    assert any(s for s in secrets_seen), "the store should hold the tokens after login"

    # And the next cell lists the user's workspaces
    _run_cell(page, 1)
    out = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".jp-OutputArea")
    out.get_by_text("WORKSPACES").wait_for()
    assert "workspace-1" in out.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"page-logged-in-{flavour}.png"))

    # When the notebook is saved, the file holds widget state but no secret
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=20_000
    )
    saved = next(server.root.glob(url.split("/")[-1].split("?")[0])).read_text()
    assert "application/vnd.jupyter.widget-view+json" in saved
    for secret in secrets_seen:
        assert secret not in saved
    assert not SECRET_SHAPES.search(saved)
    access_tokens = [s for s in secrets_seen if re.fullmatch(r"[A-Za-z0-9]{10}-[A-Za-z0-9]{22}", s)]

    # When the user logs out (in JupyterLab from the status bar, in Notebook 7 on the widget),
    # both say so and the old token is dead on the server
    if flavour == "lab":
        page.locator(".coder-jupyter-status").click()
        page.locator(".jp-Dialog button", has_text="Log out").click()
        page.locator(".coder-jupyter-status", has_text="logged out").wait_for()
    else:  # the widget asks first, like the status bar
        widget.locator(".cj-logout").click()
        page.locator(".jp-Dialog button", has_text="Log out").click()
    widget.locator(".cj-badge-logged_out").wait_for()
    for token in access_tokens:
        r = httpx.get(f"{fake.url}/api/v2/users/me", headers={"Coder-Session-Token": token})
        assert r.status_code == 401

    # When the user logs in again but cancels on the consent page, the widget says so, calmly
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    _consent(popup_info.value, fake, allow=False)
    widget.locator(".cj-badge-cancelled").wait_for()
    assert "nothing was saved" in widget.locator(".cj-message").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"widget-cancelled-{flavour}.png"))


def test_full_login_flow_in_jupyterlab(page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    name = _write_notebook(jupyter_server.root)
    _full_flow(page, jupyter_server, ui_fake, jupyter_server.lab(name), "lab")


def test_full_login_flow_in_notebook7(page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    name = _write_notebook(jupyter_server.root)
    _full_flow(page, jupyter_server, ui_fake, jupyter_server.notebook7(name), "notebook7")
