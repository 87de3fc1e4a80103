"""Real JupyterLab / Notebook 7 + Debian's chromium (Playwright for Python) against the fake Coder.

One Jupyter server (it serves both JupyterLab and Notebook 7) per test session, under the non-root
base URL ``/user/alice/``, pointed at a fake Coder deployment through ``CODER_URL``; one browser per
session, a fresh context per test. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
BASE_URL = "/user/alice/"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class JupyterServer:
    url: str  # http://127.0.0.1:PORT/user/alice/
    token: str
    root: Path
    store: Path
    coder_url: str

    def lab(self, path: str) -> str:
        return f"{self.url}lab/tree/{path}?token={self.token}"

    def notebook7(self, path: str) -> str:
        return f"{self.url}notebooks/{path}?token={self.token}"


@pytest.fixture(scope="session")
def ui_fake() -> Iterator[Any]:
    from coder_jupyter.testing import fake_coder

    with fake_coder(workspaces=3, dcr=True) as fake:
        yield fake


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory, ui_fake: Any) -> Iterator[JupyterServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("jupyter")
    root, store, runtime, settings = (tmp / d for d in ("root", "store", "runtime", "settings"))
    for d in (root, runtime, settings):
        d.mkdir()
    notif = settings / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Save widget state into notebooks, so the "no secret in the saved file" check has teeth.
    widgets = settings / "@jupyter-widgets" / "jupyterlab-manager"
    widgets.mkdir(parents=True)
    (widgets / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "CODER_URL": ui_fake.url,
        "CODER_JUPYTER_DIR": str(store),
        "CODER_CONFIG_DIR": str(tmp / "coderv2"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
    }
    env.pop("CODER_SESSION_TOKEN", None)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.allow_root=True", f"--ServerApp.base_url={BASE_URL}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True", "--JupyterNotebookApp.expose_app_in_browser=True",
    ]
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}{BASE_URL}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited: {(tmp / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("jupyter server did not answer within 60 s")
            time.sleep(0.2)
        yield JupyterServer(url=url, token=token, root=root, store=store, coder_url=ui_fake.url)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        server_log = tmp / "server.log"
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(server_log, ARTIFACTS / "ui-jupyter-server.log")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()
