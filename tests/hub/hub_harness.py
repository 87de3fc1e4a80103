"""Helpers of the hub tests: the running hub, one browser user, notebook cells, store snapshots."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHP = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
VENV_BIN = Path(sys.executable).parent
HUB_PASSWORD = "hub-shared-password"
NOTEBOOK = "coder.ipynb"

#: Hub user -> (Coder username, Coder password). Different names on each side on purpose:
#: the test checks that each notebook ends up as *its* Coder user, not just "some" user.
CODER_ACCOUNTS = {"alice": ("alice-coder", "alice-coder-pw-1"), "bob": ("bob-coder", "bob-coder-pw-22")}

#: The notebook every user opens: cell 0 shows the per-user environment the admin set,
#: cell 1 loads the extension (shows the login widget), cell 2 asks Coder who we are.
CELLS = [
    "import os\nprint('env:', *map(os.environ.get, ('JUPYTERHUB_USER', 'CODER_JUPYTER_DIR', 'CODER_URL')))",
    "%load_ext coder_jupyter",
    "print('coder.me:', coder.me().username)",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(cells: list[str]) -> str:
    return json.dumps({
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
             "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    })


def prepare_home(home: Path) -> None:
    """A user's HOME as a fresh account would have it, plus the test notebook and no news toasts."""
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (home / NOTEBOOK).write_text(_notebook(CELLS))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``directory``: relative path -> (size, mtime_ns, sha256). Detects any change."""
    if not directory.exists():
        return {}
    files = (p for p in sorted(directory.rglob("*")) if p.is_file())
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns, _digest(p))
        for p in files
    }


@dataclass
class Hub:
    """A running JupyterHub. ``url`` is the public origin with a trailing slash."""

    url: str
    tmp: Path
    homes: Path
    api_token: str = field(repr=False)
    coder_url: str
    proc: subprocess.Popen[bytes]
    tracked: dict[int, psutil.Process] = field(default_factory=dict)
    admin_env: dict[str, str] = field(default_factory=dict, repr=False)

    def home(self, user: str) -> Path:
        return self.homes / user

    def store(self, user: str) -> Path:
        return self.home(user) / ".coder_jupyter"

    def track(self) -> None:
        """Remember every current descendant of the hub (proxy, single-user servers, kernels)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.tracked.setdefault(child.pid, child)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the hub's REST API (``/hub/api/...``) as the test's admin service."""
        return httpx.request(
            method, f"{self.url}hub/api/{path}", headers={"Authorization": f"token {self.api_token}"},
            timeout=30, **kwargs,
        )

    def set_admin_environment(self, env: dict[str, str]) -> None:
        """What the admin puts in ``c.Spawner.environment`` (applied at the next spawn)."""
        path = self.tmp / "admin_env.json"
        path.write_text(json.dumps(env))
        path.chmod(0o600)
        self.admin_env = dict(env)

    def reconfigure(self, env: dict[str, str], users: list[HubUser]) -> None:
        """The admin changes the Coder settings: restart every server (fresh stores) with ``env``."""
        if env == self.admin_env:
            return
        self.track()
        for user in users:
            r = self.api("DELETE", f"users/{user.name}/server")
            assert r.status_code in (202, 204, 400), r.text  # 400: was not running
        for user in users:
            self.wait_stopped(user.name)
            shutil.rmtree(self.store(user.name), ignore_errors=True)
            prepare_home(self.home(user.name))  # a notebook without the previous run's outputs
        self.set_admin_environment(env)
        for user in users:
            user.open_notebook()
        for user in users:
            user.wait_for_notebook()

    def wait_stopped(self, user: str) -> None:
        """Wait until the hub reports no server for ``user``."""
        deadline = time.monotonic() + 30
        while self.api("GET", f"users/{user}").json().get("servers", {}):
            assert time.monotonic() < deadline, f"{user}'s server did not stop"
            time.sleep(0.1)

    def log_tail(self, chars: int = 4000) -> str:
        log = self.tmp / "hub.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def terminate(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    return list(alive)


class HubUser:
    """One person at their browser: a Playwright context with their hub cookies and their notebook."""

    def __init__(self, name: str, hub: Hub, browser: Any) -> None:
        self.name = name
        self.hub = hub
        self.coder_username, self.coder_password = CODER_ACCOUNTS[name]
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(45_000)
        self.page = self.context.new_page()
        self.redirect_uris: list[str] = []

    @property
    def base_url(self) -> str:
        return f"{self.hub.url}user/{self.name}/"

    # ------------------------------------------------------------------ hub login and notebook
    def submit_hub_login(self) -> None:
        """Fill the hub's login form; the hub then spawns the server and opens the notebook."""
        self.page.goto(f"{self.hub.url}hub/login?{urlencode({'next': self.spawn_path})}")
        self.page.fill("#username_input", self.name)
        self.page.fill("#password_input", HUB_PASSWORD)
        self.page.click("#login_submit")

    @property
    def spawn_path(self) -> str:
        """Since JupyterHub 4 a visit to a stopped server does not start it; ``/hub/spawn`` does."""
        return f"/hub/spawn/{self.name}?{urlencode({'next': f'/user/{self.name}/lab/tree/{NOTEBOOK}'})}"

    def open_notebook(self) -> None:
        """(Re)open the notebook, starting the user's server first if it is not running."""
        self.page.goto(f"{self.hub.url}{self.spawn_path.lstrip('/')}")

    def wait_for_notebook(self) -> None:
        self.page.wait_for_url(f"**/user/{self.name}/lab/tree/{NOTEBOOK}**", timeout=60_000)
        self.page.locator(".jp-NotebookPanel .jp-Cell").nth(len(CELLS) - 1).wait_for(timeout=60_000)
        # Cells run before the kernel is connected can be dropped: wait for an idle kernel first.
        idle = ".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status=idle]"
        self.page.locator(idle).wait_for(timeout=60_000)
        self.hub.track()

    def cell(self, index: int) -> Any:
        return self.page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index)

    def run_cell(self, index: int) -> None:
        """Select a cell and press Shift+Enter, as a person would.

        On a loaded machine the first key press can land before JupyterLab has settled focus; the
        cell's prompt (``[ ]:`` → ``[*]:`` → ``[1]:``) tells whether the run was taken, so retry once.
        """
        from playwright.sync_api import expect

        prompt = self.cell(index).locator(".jp-InputArea-prompt")
        before = prompt.inner_text()
        for attempt in range(2):
            self.cell(index).locator(".jp-InputArea-editor").click()
            self.page.keyboard.press("Shift+Enter")
            try:
                expect(prompt).not_to_have_text(before, timeout=10_000)
                return
            except AssertionError:
                if attempt:
                    raise

    def output(self, index: int, contains: str, timeout: float = 45_000) -> str:
        """Wait until cell ``index`` shows ``contains`` in its output (or an error); return the text."""
        out = self.cell(index).locator(".jp-OutputArea-output")
        out.filter(has_text=contains).or_(out.locator("[data-mime-type*=error]")).first.wait_for(timeout=timeout)
        text = str(out.all_inner_texts())
        assert contains in text, f"cell {index} of {self.name}'s notebook: {text}"
        return text

    # ------------------------------------------------------------------ logging in to Coder
    def widget(self) -> Any:
        """The login widget in the output of the ``%load_ext`` cell."""
        return self.cell(1).locator(".jp-OutputArea-output")

    def click_log_in(self) -> Any:
        """Click the widget's "Log in"; return the popup it opens (a real window of this context)."""
        button = self.widget().locator("button.cj-login")
        error = self.widget().locator("[data-mime-type*=error]")
        button.or_(error).first.wait_for()
        assert not error.count(), f"%load_ext failed in {self.name}'s notebook: {error.first.inner_text()}"
        with self.page.expect_popup() as popup_info:
            button.click()
        return popup_info.value

    def approve_at_coder(self, popup: Any, *, click_allow: bool = True) -> None:
        """In the popup: sign in to Coder if asked (this user's Coder account), then Allow."""
        allow = popup.locator("#allow")
        sign_in = popup.locator("#login")
        allow.or_(sign_in).first.wait_for()
        if sign_in.is_visible():
            popup.fill("#username", self.coder_username)
            popup.fill("#password", self.coder_password)
            sign_in.click()
        if click_allow:
            allow.click()
        else:
            allow.wait_for()

    def _note_redirect_uri(self, url: str) -> None:
        """Remember the ``redirect_uri`` of each authorize URL the popup visits (nothing secret)."""
        parts = urlsplit(url)
        if parts.path.endswith("/oauth2/authorize"):
            self.redirect_uris.extend(parse_qs(parts.query).get("redirect_uri", []))

    def log_in_with_widget(self) -> None:
        """The whole product flow: ``%load_ext``, Log in, Coder's sign-in and consent, popup closes."""
        self.run_cell(1)
        popup = self.click_log_in()
        popup.on("framenavigated", lambda frame: self._note_redirect_uri(frame.url))
        self.approve_at_coder(popup)
        if not popup.is_closed():
            popup.wait_for_event("close")
        self.widget().filter(has_text=self.coder_username).wait_for()

    # ------------------------------------------------------------------ the single-user server's JSON API
    def fetch(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``fetch`` from the page as the front end does: cookies plus the ``X-XSRFToken`` header."""
        result: dict[str, Any] = self.page.evaluate(
            """async ([url, method, body]) => {
                const m = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
                const headers = {'X-XSRFToken': m ? decodeURIComponent(m[1]) : ''};
                if (body !== null) headers['Content-Type'] = 'application/json';
                const init = {method, headers, body: body === null ? undefined : JSON.stringify(body)};
                const r = await fetch(url, init);
                const text = await r.text();
                let json = null; try { json = JSON.parse(text); } catch (e) {}
                return {status: r.status, json, text};
            }""",
            [f"{self.base_url}{path}", method, body],
        )
        return int(result["status"]), result["json"] if result["json"] is not None else result["text"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()


