"""What a newcomer sees in the browser (issue 16): a cancel that is not an error, a widget whose
kernel is gone, the logout confirmation, the host in the status bar, and the README's screenshots.

Real JupyterLab under /user/alice/ + Debian's chromium + the fake Coder (tests/ui/conftest.py).
The README's screenshots are taken here: ``CODER_JUPYTER_UPDATE_SCREENSHOTS=1 pytest tests/ui -k screenshot``
writes them to ``docs/images/``; a plain run writes them to ``tests/artifacts/images/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_login_browser import _consent, _run_cell, _wait_for_kernel, _write_notebook

from coder_jupyter._store import Store

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
#: Where the screenshots go: the README's docs/images/ only when asked (so that running the suite
#: leaves `git status` clean), else tests/artifacts/images/ to look at.
UPDATE_SCREENSHOTS_ENV = "CODER_JUPYTER_UPDATE_SCREENSHOTS"
IMAGES = (ROOT / "docs" / "images" if os.environ.get(UPDATE_SCREENSHOTS_ENV) == "1"
          else ROOT / "tests" / "artifacts" / "images")
JupyterServer = Any  # tests/ui/conftest.py


@pytest.fixture(autouse=True)
def _logged_out(jupyter_server: JupyterServer) -> None:
    """Every test starts with an empty credential store."""
    shutil.rmtree(jupyter_server.store, ignore_errors=True)
    IMAGES.mkdir(parents=True, exist_ok=True)


def _open_widget(page: Any, server: JupyterServer) -> Any:
    page.goto(server.lab(_write_notebook(server.root)))
    _wait_for_kernel(page)
    _run_cell(page, 0)
    widget = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .coder-jupyter-login")
    try:
        widget.locator(".cj-badge-logged_out").wait_for()
    except Exception:
        page.screenshot(path="/tmp/i16b_fail.png")
        print(page.locator(".coder-jupyter-login").evaluate_all("els => els.map(e => e.outerHTML)"))
        raise
    return widget


def _log_in_with_token(widget: Any, fake: Any) -> None:
    if widget.locator(".cj-token-input").is_hidden():
        widget.locator(".cj-token-toggle").click()
    widget.locator(".cj-token-input").fill(fake.session_token)
    widget.locator(".cj-token-submit").click()
    widget.locator(".cj-badge-logged_in").wait_for()


def test_cancel_on_the_consent_page_is_neutral_and_the_popup_closes(
        page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    widget = _open_widget(page, jupyter_server)
    # When the user clicks Log in, then Cancel on Coder's consent page
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    popup = popup_info.value
    _consent(popup, ui_fake, allow=False)
    # Then the widget says "Login cancelled", neutrally, and offers to log in again
    widget.locator(".cj-badge-cancelled", has_text="Login cancelled").wait_for()
    assert widget.get_attribute("data-status") == "cancelled"
    assert widget.locator(".cj-error").is_hidden()
    assert widget.locator(".cj-badge-error").count() == 0
    text = widget.inner_text()
    assert "nothing was saved" in text
    assert "resource owner" not in text.lower() and "access_denied" not in text
    assert widget.locator(".cj-login").inner_text() == "Log in again"
    # And the popup closed itself
    if not popup.is_closed():
        popup.wait_for_event("close")
    assert popup.is_closed()
    widget.screenshot(path=str(IMAGES / "widget-cancelled.png"))


def test_a_widget_whose_kernel_restarted_says_so_and_disables_its_buttons(
        page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    widget = _open_widget(page, jupyter_server)
    _log_in_with_token(widget, ui_fake)
    assert widget.locator(".cj-logout").is_enabled()
    # When the kernel restarts
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    # Then the old widget says its kernel is gone, and no button looks live
    widget.locator(".cj-kernel-gone").wait_for()
    assert widget.get_attribute("data-kernel") == "gone"
    assert "run the cell again" in widget.inner_text()
    assert "Logged in" not in widget.locator(".cj-badge").inner_text()
    buttons = widget.locator("button")
    assert buttons.count() > 0
    for i in range(buttons.count()):
        assert buttons.nth(i).is_disabled()
    # And running the cell again gives a live widget
    _wait_for_kernel(page)
    page.locator(".jp-Notebook .jp-CodeCell").nth(0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    fresh = page.locator(".coder-jupyter-login[data-kernel='live']")
    fresh.locator(".cj-badge-logged_in").wait_for()  # the token is in the store
    assert fresh.locator(".cj-logout").is_enabled()


def test_log_out_on_the_widget_asks_first_like_the_status_bar(
        page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    widget = _open_widget(page, jupyter_server)
    _log_in_with_token(widget, ui_fake)
    logout = widget.locator(".cj-logout")
    # Log out is a quiet, secondary button (no dark "reject" styling)
    assert "cj-quiet" in (logout.get_attribute("class") or "")
    assert "jp-mod-reject" not in (logout.get_attribute("class") or "")
    # When the user clicks Log out, then keeps the session
    logout.click()
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_text("Log out of Coder?").wait_for()
    host = ui_fake.url.split("://", 1)[1]
    assert host in dialog.inner_text() and ui_fake.username in dialog.inner_text()
    dialog.locator("button", has_text="Stay logged in").click()
    dialog.wait_for(state="detached")
    # Then nothing happened
    assert widget.locator(".cj-badge-logged_in").count() == 1
    # When the user confirms
    logout.click()
    page.locator(".jp-Dialog button", has_text="Log out").click()
    # Then the widget and the status bar say logged out
    widget.locator(".cj-badge-logged_out").wait_for()
    page.locator(".coder-jupyter-status", has_text="logged out").wait_for()
    # And the status bar's own logout asks with the very same dialog (same words, same buttons)
    _log_in_with_token(widget, ui_fake)
    page.locator(".coder-jupyter-status", has_text=f"Coder: {ui_fake.username}").wait_for()
    page.locator(".coder-jupyter-status").click()
    page.locator(".jp-Dialog").get_by_text("Log out of Coder?").wait_for()
    assert page.locator(".jp-Dialog button", has_text="Stay logged in").count() == 1
    page.locator(".jp-Dialog button", has_text="Stay logged in").click()


def test_the_status_bar_names_the_deployment(
        page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    widget = _open_widget(page, jupyter_server)
    _log_in_with_token(widget, ui_fake)
    host = ui_fake.url.split("://", 1)[1]
    item = page.locator(".coder-jupyter-status", has_text=f"Coder: {ui_fake.username}")
    item.wait_for()
    # With one deployment: the host is in the hover title, the text stays short
    assert host in (item.get_attribute("title") or "")
    assert host not in item.inner_text()
    # When a second deployment is in use (its login kept in the same store)
    Store("https://other.example.com", root=jupyter_server.store).save_account({"username": "alice"})
    page.evaluate("() => window.dispatchEvent(new Event('coder-jupyter:status-changed'))")
    # Then the text names the host too
    page.locator(".coder-jupyter-status", has_text=f"Coder: {ui_fake.username} @ {host}").wait_for()


def _demo_notebook(root: Path) -> str:
    """The demo's getting-started notebook, under a fresh name (the tracked file stays clean)."""
    nb = json.loads((ROOT / "notebooks" / "01-getting-started.ipynb").read_text())
    name = f"getting-started-{uuid.uuid4().hex[:6]}.ipynb"
    (root / name).write_text(json.dumps(nb))
    return name


def test_readme_screenshots_from_the_demo_notebook(
        page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    """Regenerates docs/images/widget-waiting.png and docs/images/jupyterlab-logged-in.png."""
    page.set_viewport_size({"width": 1280, "height": 960})
    page.goto(jupyter_server.lab(_demo_notebook(jupyter_server.root)))
    _wait_for_kernel(page)
    _run_cell(page, 0)  # %load_ext coder_jupyter
    widget = page.locator(".coder-jupyter-login")
    widget.locator(".cj-badge-logged_out").wait_for()
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    popup = popup_info.value
    widget.locator(".cj-badge-waiting").wait_for()
    widget.locator(".cj-step-current", has_text=re.compile("approve")).wait_for()
    widget.screenshot(path=str(IMAGES / "widget-waiting.png"))
    _consent(popup, ui_fake, allow=True)
    widget.locator(".cj-badge-logged_in").wait_for()
    code_cells = page.locator(".jp-Notebook .jp-CodeCell")
    for index in range(1, code_cells.count()):
        _run_cell(page, index)
    # The workspace table (coder.workspaces(...) as HTML) is on screen, with the widget above it
    table = page.locator(".jp-OutputArea table", has_text="workspace-1").first
    table.wait_for()
    page.locator(".coder-jupyter-status", has_text=f"Coder: {ui_fake.username}").wait_for()
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    # The table at the bottom of the view, the status report and "Who am I?" above it
    table.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.locator(".jp-Notebook .jp-CodeCell").nth(3).locator(".jp-InputArea").click()  # no active markdown
    page.keyboard.press("Escape")
    table.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.mouse.move(0, 0)
    page.screenshot(path=str(IMAGES / "jupyterlab-logged-in.png"))
    assert httpx.get(f"{ui_fake.url}/api/v2/users/me",
                     headers={"Coder-Session-Token": ui_fake.session_token}).status_code == 200
