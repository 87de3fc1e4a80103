"""JupyterHub configuration for the hub tests: what a hub administrator writes, plus test plumbing.

The test fixture (``conftest.py``) writes a JSON settings file and points
``CODER_HUB_TEST_SETTINGS`` at it. Everything binds to 127.0.0.1 on ports the fixture picked.

The Coder part is the same an administrator would write (see docs/jupyterhub.md):
``c.Spawner.environment`` carries the deployment URL (and, for deployments without dynamic
client registration, the pre-registered OAuth client) to every single-user server. Each user
gets their own HOME, and ``CODER_JUPYTER_DIR`` names a store inside it.

One piece is test-only: the admin's Coder settings are re-read from ``admin_env.json`` at each
spawn (``pre_spawn_hook``), so a test can play "the admin changed the config" by rewriting that
file and restarting the users' servers, instead of restarting the whole hub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

c: Any = get_config()  # type: ignore[name-defined]  # noqa: F821 - injected by JupyterHub

settings: dict[str, Any] = json.loads(Path(os.environ["CODER_HUB_TEST_SETTINGS"]).read_text())
tmp = Path(settings["tmp"])

# ---------------------------------------------------------------- the hub, its proxy, its database
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["public_port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["chp"]]
c.ConfigurableHTTPProxy.pid_file = str(tmp / "proxy.pid")
c.JupyterHub.pid_file = str(tmp / "hub.pid")
c.JupyterHub.db_url = f"sqlite:///{tmp / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(tmp / "cookie_secret")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# ---------------------------------------------------------------- users: a shared password, any name
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = settings["hub_password"]
c.Authenticator.allow_all = True

# A service token the test uses to stop and start servers through the hub's REST API.
c.JupyterHub.services = [{"name": "hub-test", "api_token": settings["api_token"]}]
c.JupyterHub.load_roles = [
    {"name": "hub-test", "scopes": ["admin:users", "admin:servers", "read:users"], "services": ["hub-test"]}
]

# ---------------------------------------------------------------- single-user servers
c.JupyterHub.spawner_class = "simple"  # local processes, each with its own HOME, no setuid
c.SimpleLocalProcessSpawner.home_dir_template = str(Path(settings["homes"]) / "{username}")
c.Spawner.cmd = [settings["singleuser"]]
c.Spawner.args = ["--allow-root", "--LabApp.news_url=None"]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
# JupyterHub's defaults plus the Jupyter search paths (a developer's uninstalled checkout).
c.Spawner.env_keep = [
    "PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH",
]


def _coder_jupyter_dir(spawner: Any) -> str:
    # Spawner.environment values are not format strings; a callable sees the spawner.
    return str(Path(spawner.home_dir) / ".coder_jupyter")


ENVIRONMENT: dict[str, Any] = {
    "CODER_URL": settings["coder_url"],
    "CODER_JUPYTER_DIR": _coder_jupyter_dir,
}


def _admin_environment(spawner: Any) -> None:
    """Test-only: re-read the admin's Coder settings at every spawn (see the module docstring)."""
    admin = json.loads((tmp / "admin_env.json").read_text())
    spawner.environment = {**ENVIRONMENT, **admin}


c.Spawner.environment = ENVIRONMENT
c.Spawner.pre_spawn_hook = _admin_environment
