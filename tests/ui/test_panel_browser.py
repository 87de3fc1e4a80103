"""The Coder sidebar panel as a user meets it, in a real browser: JupyterLab and Notebook 7 (/user/alice/).

Open the panel → **Log in** in it (the fake's consent page in the popup) → the fake's workspaces
are listed → filter with Coder's search syntax → stop one and watch it reach "stopped", start it
again → a failing build shows its error and last log lines → **Insert in notebook** adds a cell
that runs and shows the workspace. No kernel is involved until that last cell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DOCS_IMAGES = Path(__file__).resolve().parent.parent.parent / "docs" / "images"
JupyterServer = Any  # tests/ui/conftest.py

SECRET_SHAPES = re.compile(r"\b[A-Za-z0-9]{10}-[A-Za-z0-9]{22}\b|coder_[a-z0-9]{10}_[A-Za-z0-9]{40}")


def _write_notebook(root: Path) -> str:
    name = f"panel-{uuid.uuid4().hex[:8]}.ipynb"
    nb = {
        "cells": [{"cell_type": "markdown", "id": uuid.uuid4().hex[:8], "metadata": {},
                   "source": "Workspaces inserted from the Coder panel land below."}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(nb))
    return name


@pytest.fixture(autouse=True)
def _logged_out(jupyter_server: JupyterServer) -> None:
    """Every test starts with an empty credential store: the panel itself logs in."""
    shutil.rmtree(jupyter_server.store, ignore_errors=True)


def _consent(popup: Any, fake: Any) -> None:
    popup.locator("#username, #allow").first.wait_for()
    if popup.locator("#username").count():
        popup.fill("#username", fake.username)
        popup.fill("#password", fake.password)
        popup.click("#login")
    popup.locator("#allow").wait_for()
    popup.click("#allow")


def _wait_for_app(page: Any) -> None:
    page.wait_for_function("() => !!window.jupyterapp && window.jupyterapp.commands.hasCommand("
                           "'coder-jupyter:open-panel')", timeout=60_000)


def _open_panel(page: Any, flavour: str) -> Any:
    """Show the panel like a user: its sidebar tab in JupyterLab (unless the restored layout
    already shows it: a click would close it), the command in Notebook 7."""
    page.evaluate("() => window.jupyterapp.restored.then(() => null)")
    panel = page.locator("#coder-jupyter-panel")
    if flavour == "lab":
        if not panel.is_visible():
            page.locator(".lm-TabBar-tab[data-id='coder-jupyter-panel']").click()
    else:
        page.evaluate("() => window.jupyterapp.commands.execute('coder-jupyter:open-panel')")
    panel.wait_for(state="visible")
    return panel


def _row(panel: Any, name: str) -> Any:
    return panel.locator(f".cj-panel-row[data-name='{name}']")


def _wait_status(panel: Any, name: str, status: str, timeout: float = 30_000) -> None:
    _row(panel, name).locator(f".cj-pill[data-status='{status}']").wait_for(timeout=timeout)


def _wait_for_kernel(page: Any) -> None:
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
        }""",
        timeout=60_000,
    )


def _panel_flow(page: Any, server: JupyterServer, fake: Any, url: str, flavour: str) -> None:
    doomed = f"doomed-{flavour}"
    fake.create_workspace(fake.username, doomed, template="broken", ready=True)

    # Given a notebook, when the user opens the Coder panel
    page.goto(url)
    _wait_for_app(page)
    _wait_for_kernel(page)
    panel = _open_panel(page, flavour)

    # Then it offers to log in; logging in from the panel lists the fake's workspaces
    panel.locator(".cj-panel-message[data-kind='login']").wait_for()
    with page.expect_popup() as popup_info:
        panel.get_by_role("button", name="Log in to Coder").click()
    _consent(popup_info.value, fake)
    panel.locator(".cj-panel-user", has_text=fake.username).wait_for()
    for name in ("workspace-1", "workspace-2", "workspace-3", doomed):
        _row(panel, name).wait_for()
    assert fake.url.split("//")[1] in panel.locator(".cj-panel-deployment").inner_text()
    assert "Docker Containers" in _row(panel, "workspace-1").inner_text()

    # When the user filters with Coder's search syntax, only the matches stay
    search = panel.get_by_role("searchbox", name="Filter workspaces (Coder search syntax)")
    search.fill("owner:me status:stopped")
    search.press("Enter")
    panel.locator(".cj-panel-summary", has_text="workspace").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#coder-jupyter-panel .cj-panel-row')]"
        ".every(r => r.dataset.status === 'stopped')"
        " && document.querySelector(\"#coder-jupyter-panel .cj-panel-row[data-name='workspace-3']\")"
    )
    assert _row(panel, "workspace-1").count() == 0
    search.fill("owner:me")
    search.press("Enter")
    _row(panel, "workspace-1").wait_for()

    # When the user stops a running workspace, the row shows progress and reaches "stopped"
    target = "workspace-1" if flavour == "lab" else "workspace-2"
    _wait_status(panel, target, "running")
    _row(panel, target).get_by_role("button", name=f"Stop {target}").click()
    _row(panel, target).locator(".cj-panel-progress-text").wait_for()
    _wait_status(panel, target, "stopped")
    page.wait_for_function(
        f"() => !document.querySelector(\"#coder-jupyter-panel .cj-panel-row[data-name='{target}'] "
        ".cj-panel-progress-text\")"
    )
    # and starting it brings it back to "running"
    _row(panel, target).get_by_role("button", name=f"Start {target}").click()
    _wait_status(panel, target, "running")

    # When a start build fails, the row shows the error and the build's last log lines
    _wait_status(panel, doomed, "failed")
    _row(panel, doomed).get_by_role("button", name=f"Start {doomed}").click()
    log = _row(panel, doomed).locator(".cj-panel-log")
    log.wait_for(timeout=30_000)
    assert "broken:latest" in log.inner_text()
    assert "broken:latest" in _row(panel, doomed).locator(".cj-panel-error").inner_text()

    # Keyboard: the actions are buttons reachable with Tab, with names
    _row(panel, "workspace-3").get_by_role("button", name="Start workspace-3").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert focused == "Open workspace-3 in the Coder dashboard"

    # "Copy coder ssh" confirms what it copied; "Open in the Coder dashboard" opens the workspace's page
    _row(panel, target).get_by_role("button", name=f'Copy "coder ssh {target}"').click()
    page.locator(".Toastify__toast", has_text=f"coder ssh {target}").first.wait_for()
    with page.context.expect_page() as dashboard_info:
        _row(panel, target).get_by_role("button", name=f"Open {target} in the Coder dashboard").click()
    assert dashboard_info.value.url == f"{fake.url}/@{fake.username}/{target}"
    dashboard_info.value.close()

    # When the user inserts a workspace in the notebook, a cell appears that runs and shows it
    full = f"{fake.username}/{target}"
    _row(panel, target).get_by_role("button", name=f"Insert {target} in the notebook").click()
    cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=f'coder.workspace("{full}")')
    cell.wait_for()
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    output = cell.locator(".jp-OutputArea")
    output.get_by_text(full).first.wait_for(timeout=60_000)
    assert "Error" not in output.inner_text()

    # No credential ever reached the page
    html = page.content()
    assert not SECRET_SHAPES.search(html)

    # Screenshots: light, then JupyterLab's dark theme
    ARTIFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / f"panel-light-{flavour}.png"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  "{theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's CSS is applied after the attribute flips
    background = page.evaluate(
        "() => getComputedStyle(document.querySelector('#coder-jupyter-panel')).backgroundColor")
    assert _is_dark(background), background
    panel.screenshot(path=str(ARTIFACTS / f"panel-dark-{flavour}.png"))
    page.screenshot(path=str(ARTIFACTS / f"page-panel-dark-{flavour}.png"))
    # The README's screenshot is refreshed on request only, so test runs leave the tree clean.
    docs_image = DOCS_IMAGES / "panel-dark.png"
    if flavour == "lab" and (os.environ.get("UPDATE_DOCS_IMAGES") == "1" or not docs_image.exists()):
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / "page-panel-dark-lab.png", docs_image)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  "{theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=30_000)


def _is_dark(css_color: str) -> bool:
    channels = [int(c) for c in re.findall(r"\d+", css_color)[:3]]
    return len(channels) == 3 and sum(channels) / 3 < 100


def test_panel_in_jupyterlab(page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    name = _write_notebook(jupyter_server.root)
    _panel_flow(page, jupyter_server, ui_fake, jupyter_server.lab(name), "lab")


def test_panel_in_notebook7(page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    name = _write_notebook(jupyter_server.root)
    _panel_flow(page, jupyter_server, ui_fake, jupyter_server.notebook7(name), "notebook7")


def test_panel_with_thousands_of_workspaces_and_a_failing_deployment(
    page: Any, jupyter_server: JupyterServer, ui_fake: Any
) -> None:
    owner = f"bulk{uuid.uuid4().hex[:6]}"
    ui_fake.create_user(owner, workspaces=3000)

    # Given the panel, logged in, filtered to a user with 3000 workspaces
    page.goto(f"{jupyter_server.url}lab?token={jupyter_server.token}")
    _wait_for_app(page)
    panel = _open_panel(page, "lab")
    with page.expect_popup() as popup_info:
        panel.get_by_role("button", name="Log in to Coder").click()
    _consent(popup_info.value, ui_fake)
    panel.locator(".cj-panel-user", has_text=ui_fake.username).wait_for()
    search = panel.get_by_role("searchbox", name="Filter workspaces (Coder search syntax)")
    search.fill(f"owner:{owner}")
    search.press("Enter")
    panel.locator(".cj-panel-summary", has_text="3000 workspaces").wait_for()
    panel.locator(".cj-panel-row[aria-posinset='1'][data-name]").wait_for()
    ui_fake.clear_requests()

    # Then only the visible rows are in the page
    assert panel.locator(".cj-panel-row").count() < 40

    # When the user scrolls to the end, the last page is fetched and only it
    page.evaluate("() => { const s = document.querySelector('#coder-jupyter-panel .cj-panel-scroller');"
                  " s.scrollTop = s.scrollHeight; }")
    panel.locator(".cj-panel-row[aria-posinset='3000'][data-name]").wait_for()
    assert panel.locator(".cj-panel-row").count() < 40
    assert ui_fake.request_counts()["GET", "/api/v2/workspaces"] <= 2

    # When Coder fails, the panel says so and offers Retry; Retry recovers once Coder is back
    fault = ui_fake.add_fault("error", r"^/api/v2/workspaces$", "GET", status=503)
    try:
        panel.get_by_role("button", name="Refresh workspaces").click()
        panel.locator(".cj-panel-message[data-kind='error']").wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        panel.screenshot(path=str(ARTIFACTS / "panel-error-lab.png"))
    finally:
        ui_fake.remove_fault(fault.id)
    panel.get_by_role("button", name="Retry").click()
    panel.locator(".cj-panel-row[aria-posinset='1'][data-name]").wait_for()
    assert panel.locator(".cj-panel-message[data-kind='error']").count() == 0

    # When Coder rate-limits, the panel says it will back off instead of hammering
    fault = ui_fake.add_fault("ratelimit", r"^/api/v2/workspaces$", "GET", retry_after=45)
    try:
        panel.get_by_role("button", name="Refresh workspaces").click()
        message = panel.locator(".cj-panel-message[data-kind='error']")
        message.wait_for()
        assert "rate limiting" in message.inner_text()
        assert re.search(r"retrying in (4[5-9]|[5-9]\d) s", message.inner_text()), message.inner_text()
    finally:
        ui_fake.remove_fault(fault.id)
