"""The jupyter_server extension application: :class:`CoderJupyterApp`.

Enabled by ``jupyter-config/jupyter_server_config.d/coder_jupyter.json`` (installed with the
package) or by hand::

    jupyter server --ServerApp.jpserver_extensions="{'coder_jupyter': True}"

Configure it like any Jupyter app, in ``jupyter_server_config.py``::

    c.CoderConfig.url = "https://coder.example.com"      # the deployment the JSON API acts on
    c.CoderJupyterApp.max_parameter_length = 4096         # longest accepted callback parameter
    c.CoderJupyterApp.cli_refresh_interval = 60           # keep terminals' Coder CLI login fresh
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int

from ._backend import LoginBackend
from ._workspaces import WorkspaceService
from .handlers import (
    CALLBACK_PATH,
    CallbackHandler,
    CancelHandler,
    CliHandler,
    LoginHandler,
    LogoutHandler,
    StatusHandler,
)
from .workspaces import workspace_handlers

__all__ = ["CoderJupyterApp"]


class CoderJupyterApp(ExtensionApp):
    """Serves ``{base_url}coder/oauth/callback`` and ``{base_url}coder/api/{status,login,logout,cancel}``.

    The callback finishes OAuth logins started in any kernel of this user (the pending login and
    the tokens live in the shared credential store); the JSON routes let the JupyterLab status
    bar show and change the login state without a kernel.
    """

    name = "coder_jupyter"
    description = "Coder login for Jupyter: the OAuth callback route and a small JSON API."
    load_other_extensions = True

    max_parameter_length = Int(
        4096,
        help="Longest accepted value (characters) of any callback query parameter; longer ones are "
        "refused with 400 before anything is read from the store.",
    ).tag(config=True)

    executor_workers = Int(
        2, help="Threads that run blocking login work (token exchange, revocation) off the event loop."
    ).tag(config=True)

    cli_refresh_interval = Float(
        60.0,
        help="Seconds between checks that keep the Coder CLI's copy of the login fresh in terminals "
        "(for deployments shared with `%coder cli terminals`), also when no kernel runs. 0 disables.",
    ).tag(config=True)

    cli_refresh_ahead = Float(
        300.0, help="Refresh a terminal-shared OAuth login this many seconds before its access token expires."
    ).tag(config=True)

    backend: LoginBackend
    executor: ThreadPoolExecutor
    workspaces: WorkspaceService
    _cli_timer: PeriodicCallback | None = None
    _cli_run: asyncio.Future[int] | Future[int] | None = None

    def initialize_settings(self) -> None:
        """Create the backend (configured from this app's traitlets config) and the worker pool."""
        self.backend = LoginBackend(parent=self)
        self.executor = ThreadPoolExecutor(
            max_workers=max(1, self.executor_workers), thread_name_prefix="coder-jupyter"
        )
        self.workspaces = WorkspaceService(parent=self)
        if self.cli_refresh_interval > 0:
            self._cli_timer = PeriodicCallback(self._keep_cli_fresh, self.cli_refresh_interval * 1000)
            self._cli_timer.start()

    def _keep_cli_fresh(self) -> None:
        """One tick: refresh terminal-shared logins that are due, in the worker pool (one at a time)."""
        if self._cli_run is not None and not self._cli_run.done():
            return
        self._cli_run = asyncio.get_running_loop().run_in_executor(
            self.executor, self.backend.keep_cli_fresh, self.cli_refresh_ahead)

    def initialize_handlers(self) -> None:
        """Register the routes; ``ExtensionApp`` prefixes each with the server's ``base_url``."""
        handlers: list[tuple[str, Any]] = [
            (CALLBACK_PATH, CallbackHandler),
            ("coder/api/status", StatusHandler),
            ("coder/api/login", LoginHandler),
            ("coder/api/logout", LogoutHandler),
            ("coder/api/cancel", CancelHandler),
            ("coder/api/cli", CliHandler),
        ]
        handlers += workspace_handlers()  # the JupyterLab "Coder" panel (serverext/workspaces.py)
        self.handlers.extend(handlers)

    async def stop_extension(self) -> None:
        """Stop the CLI refresh timer, the worker pool, and close the backend's HTTP client."""
        if self._cli_timer is not None:
            self._cli_timer.stop()
            self._cli_timer = None
        executor = getattr(self, "executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
        workspaces = getattr(self, "workspaces", None)
        if workspaces is not None:
            await workspaces.close()
