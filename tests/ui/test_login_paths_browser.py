"""Logins that cannot use the Jupyter server's callback route, in JupyterLab in chromium, with the
``coder_jupyter`` server extension disabled (coder-jupyter installed in the kernel's environment only).

- The browser reaches the kernel: the widget says it signs in through a local listener in the
  kernel, and Coder's redirect lands on that listener.
- The browser cannot reach the kernel (a remote kernel; here DevTools blocks every request to the
  listener, so the browser genuinely fails to reach it): the widget offers the paste field and the
  login completes by pasting the address the popup was sent to.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_login_browser import (  # the same user, notebook and checks as the server-route tests
    ARTIFACTS,
    SECRET_SHAPES,
    _consent,
    _run_cell,
    _secrets_in_store,
    _wait_for_kernel,
    _write_notebook,
)

pytestmark = pytest.mark.browser

JupyterServer = Any  # tests/ui/conftest.py
LISTENER = re.compile(r"^http://127\.0\.0\.1:\d+/(probe|callback)(\?.*)?$")


@pytest.fixture(autouse=True)
def _logged_out(jupyter_server_without_extension: JupyterServer) -> None:
    shutil.rmtree(jupyter_server_without_extension.store, ignore_errors=True)


def _start(page: Any, server: JupyterServer) -> tuple[str, Any]:
    name = _write_notebook(server.root)
    # A workspace of its own, so JupyterLab does not restore the previous test's notebook beside it.
    page.goto(f"{server.url}lab/workspaces/{name.removesuffix('.ipynb')}/tree/{name}?token={server.token}")
    _wait_for_kernel(page)
    _run_cell(page, 0)
    widget = page.locator(".coder-jupyter-login")
    widget.locator(".cj-badge-logged_out").wait_for()
    return name, widget


def _finish(page: Any, server: JupyterServer, fake: Any, name: str, widget: Any, seen: set[str],
            flavour: str) -> None:
    widget.locator(".cj-badge-logged_in").wait_for()
    assert fake.username in widget.inner_text()
    widget.screenshot(path=str(ARTIFACTS / f"widget-logged-in-{flavour}.png"))
    seen |= _secrets_in_store(server.store)
    assert seen, "the store should hold the tokens after login"
    _run_cell(page, 1)
    out = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".jp-OutputArea")
    out.get_by_text("WORKSPACES").wait_for()
    assert "workspace-1" in out.inner_text()
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=20_000)
    saved = (Path(server.root) / name).read_text()
    assert "application/vnd.jupyter.widget-view+json" in saved
    for secret in seen:
        assert secret not in saved
    assert not SECRET_SHAPES.search(saved)
    assert "code=" not in saved


def test_login_through_the_kernels_listener_without_the_server_extension(
        page: Any, jupyter_server_without_extension: JupyterServer, ui_fake: Any) -> None:
    server = jupyter_server_without_extension
    name, widget = _start(page, server)
    # When the user clicks Log in
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    popup = popup_info.value
    # Then the widget says which way it signs in
    widget.locator(".cj-path", has_text="through a local listener in your kernel").wait_for()
    assert "no coder-jupyter extension" in widget.locator(".cj-path").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / "widget-waiting-loopback.png"))
    seen = _secrets_in_store(server.store)
    # When the user signs in and allows, Coder sends the popup to the kernel's listener
    _consent(popup, ui_fake, allow=True)
    widget.locator(".cj-badge-logged_in").wait_for()
    # Then the widget is logged in, the next cell works, and the notebook holds no secret
    _finish(page, server, ui_fake, name, widget, seen, "loopback")


def _unreachable_listener(page: Any) -> list[str]:
    """Make this tab unable to reach a kernel listener on 127.0.0.1: DevTools' Fetch domain fails
    each such request as "connection refused" (it also sees the redirect Coder answers Allow with,
    which Playwright's routes do not). Returns the addresses the tab failed to reach."""
    refused: list[str] = []
    cdp = page.context.new_cdp_session(page)

    def paused(event: dict[str, Any]) -> None:
        refused.append(event["request"]["url"])
        cdp.send("Fetch.failRequest", {"requestId": event["requestId"], "errorReason": "ConnectionRefused"})

    cdp.on("Fetch.requestPaused", paused)
    cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "http://127.0.0.1:*/probe*"},
                                           {"urlPattern": "http://127.0.0.1:*/callback*"}]})
    return refused


def test_login_by_pasting_when_the_browser_cannot_reach_the_kernel(
        page: Any, jupyter_server_without_extension: JupyterServer, ui_fake: Any) -> None:
    server = jupyter_server_without_extension
    # Given a browser that cannot reach the kernel's machine (the kernel is remote)
    refused = _unreachable_listener(page)
    name, widget = _start(page, server)
    # When the user clicks Log in
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    popup = popup_info.value
    refused_by_popup = _unreachable_listener(popup)
    # Then the probe fails and the widget offers the paste field
    widget.locator(".cj-path", has_text="pasting the final address").wait_for()
    paste = widget.locator(".cj-paste-input")
    paste.wait_for()
    assert any(re.match(r"http://127\.0\.0\.1:\d+/probe$", url) for url in refused), refused
    widget.screenshot(path=str(ARTIFACTS / "widget-waiting-paste.png"))
    seen = _secrets_in_store(server.store)
    # When the user signs in and allows, the popup fails to open the 127.0.0.1 address
    with popup.expect_event("requestfailed", predicate=lambda r: "/callback?" in r.url) as failed:
        _consent(popup, ui_fake, allow=True)
    address = failed.value.url
    assert LISTENER.match(address) and "code=" in address and refused_by_popup == [address]
    # And the user pastes that address into the widget
    paste.fill(address)
    widget.locator(".cj-paste-submit").click()
    # Then the field is cleared at once and the login completes
    assert paste.input_value() == ""
    _finish(page, server, ui_fake, name, widget, seen, "paste")


def test_didnt_work_moves_from_the_jupyter_server_to_the_kernels_listener(
        page: Any, jupyter_server: JupyterServer, ui_fake: Any) -> None:
    # Given JupyterLab with the server extension loaded (the server route is the first choice)
    server = jupyter_server
    shutil.rmtree(server.store, ignore_errors=True)
    name, widget = _start(page, server)
    with page.expect_popup() as popup_info:
        widget.locator(".cj-login").click()
    popup = popup_info.value
    widget.locator(".cj-path", has_text="through this Jupyter server").wait_for()
    # When the user clicks "Didn't work?"
    widget.locator(".cj-next-path").click()
    # Then the widget starts again through a listener in the kernel, in the same popup
    widget.locator(".cj-path", has_text="through a local listener in your kernel").wait_for()
    # (its address names the new redirect, encoded once, or twice behind Coder's sign-in page)
    popup.wait_for_url(re.compile(r".*127\.0\.0\.1(%3A|%253A)\d+(%2F|%252F)callback.*"))
    seen = _secrets_in_store(server.store)
    _consent(popup, ui_fake, allow=True)
    _finish(page, server, ui_fake, name, widget, seen, "didnt-work")
