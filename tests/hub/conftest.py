"""A real JupyterHub on 127.0.0.1 with two users, driven in Debian's chromium, against the fake Coder.

One hub per test session (a spawn costs ~5-10 s on two cores): configurable-http-proxy from
``tests/hub/node_modules`` (``npm ci --prefix tests/hub``), a shared-password authenticator, and
``SimpleLocalProcessSpawner`` giving each user a single-user server under ``/user/<name>/`` with
its own HOME. The hub's configuration lives in ``tests/hub/jupyterhub_config.py``.

Process hygiene: the hub stops its proxy and the single-user servers (and they their kernels) on
SIGTERM; the fixture also records every descendant of the hub and terminates survivors, so a
failing or interrupted test leaves no orphans. Logs go to ``tests/artifacts/hub.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_harness import (
    ARTIFACTS,
    CHP,
    CODER_ACCOUNTS,
    HERE,
    HUB_PASSWORD,
    REPO,
    VENV_BIN,
    Hub,
    HubUser,
    free_port,
    prepare_home,
    terminate,
)

from coder_jupyter.testing import FakeCoder, FakeUser, fake_coder


def _missing_extensions() -> str:
    """Which of our Jupyter extensions the environment's search paths do not provide."""
    from jupyter_core.paths import jupyter_config_path, jupyter_path

    missing = []
    if not any(Path(d, "coder-jupyter", "package.json").exists() for d in jupyter_path("labextensions")):
        missing.append("the coder-jupyter JupyterLab extension")
    config_dirs = jupyter_config_path()
    if not any(Path(d, "jupyter_server_config.d", "coder_jupyter.json").exists() for d in config_dirs):
        missing.append("the coder_jupyter server extension")
    return " and ".join(missing)


@pytest.fixture(scope="session")
def hub_fake() -> Iterator[FakeCoder]:
    """The Coder deployment every hub user talks to: two users with their own passwords and workspaces."""
    users = [FakeUser(name, password=pw, workspaces=2) for name, pw in CODER_ACCOUNTS.values()]
    with fake_coder(users=users, dcr=True) as fake:
        yield fake


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory, hub_fake: FakeCoder) -> Iterator[Hub]:
    """Start JupyterHub (proxy + hub); yield once ``/hub/health`` answers; stop everything after."""
    if not CHP.exists():
        pytest.fail(f"configurable-http-proxy is missing: run `npm ci --prefix {HERE.relative_to(REPO)}`")
    missing = _missing_extensions()
    if missing:
        pytest.fail(f"the single-user servers would run without {missing}: run `bash .ci/setup` "
                    "(pip install -e . && jupyter labextension develop --overwrite .)")
    tmp = tmp_path_factory.mktemp("hub")
    homes = tmp / "home"
    for user in CODER_ACCOUNTS:
        prepare_home(homes / user)
    public_port, api_token = free_port(), secrets.token_hex(32)
    settings = {
        "tmp": str(tmp), "homes": str(homes), "public_port": public_port, "hub_port": free_port(),
        "proxy_api_port": free_port(), "chp": str(CHP), "singleuser": str(VENV_BIN / "jupyterhub-singleuser"),
        "hub_password": HUB_PASSWORD, "api_token": api_token, "coder_url": hub_fake.url,
    }
    settings_file = tmp / "settings.json"
    settings_file.write_text(json.dumps(settings))
    settings_file.chmod(0o600)
    (tmp / "admin_env.json").write_text("{}")
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "CODER_HUB_TEST_SETTINGS": str(settings_file),
    }
    # Extra Jupyter search paths of the developer's environment reach the single-user servers
    # (see Spawner.env_keep in jupyterhub_config.py), e.g. an uninstalled checkout's extensions.
    env |= {k: os.environ[k] for k in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH") if k in os.environ}
    log = (tmp / "hub.log").open("wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    the_hub = Hub(
        url=f"http://127.0.0.1:{public_port}/", tmp=tmp, homes=homes, api_token=api_token,
        coder_url=hub_fake.url, proc=proc,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"JupyterHub exited with {proc.returncode}:\n{the_hub.log_tail()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{the_hub.url}hub/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"JupyterHub not ready in 60 s:\n{the_hub.log_tail()}"
            time.sleep(0.1)
        the_hub.track()
        yield the_hub
    finally:
        the_hub.track()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the hub stops the proxy and every single-user server
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        survivors = terminate(list(the_hub.tracked.values()), timeout=10)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(tmp / "hub.log", ARTIFACTS / "hub.log")
        assert not survivors, f"processes outlived the hub and had to be killed: {[p.pid for p in survivors]}"


@pytest.fixture(scope="module")
def hub_users(hub: Hub, browser: Any) -> Iterator[dict[str, HubUser]]:
    """Alice and Bob, logged into the hub, each looking at their notebook. Both spawns run at once."""
    users = {name: HubUser(name, hub, browser) for name in CODER_ACCOUNTS}
    try:
        for user in users.values():
            user.submit_hub_login()
        for user in users.values():
            try:
                user.wait_for_notebook()
            except Exception as exc:
                raise AssertionError(f"{user.name}'s notebook did not open:\n{hub.log_tail()}") from exc
        yield users
    finally:
        for user in users.values():
            screenshot = ARTIFACTS / f"hub-{user.name}.png"
            with contextlib.suppress(Exception):
                ARTIFACTS.mkdir(exist_ok=True)
                user.page.screenshot(path=str(screenshot))
            user.close()
