"""The jupyter_server extension application: :class:`CoderJupyterApp`.

Enabled by ``jupyter-config/jupyter_server_config.d/coder_jupyter.json`` (installed with the
package) or by hand::

    jupyter server --ServerApp.jpserver_extensions="{'coder_jupyter': True}"

Configure it like any Jupyter app, in ``jupyter_server_config.py``::

    c.CoderConfig.url = "https://coder.example.com"      # the deployment the JSON API acts on
    c.CoderJupyterApp.max_parameter_length = 4096         # longest accepted callback parameter
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int

from ._backend import LoginBackend
from ._workspaces import WorkspaceService
from .handlers import (
    CALLBACK_PATH,
    CallbackHandler,
    CancelHandler,
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

    backend: LoginBackend
    executor: ThreadPoolExecutor
    workspaces: WorkspaceService

    def initialize_settings(self) -> None:
        """Create the backend (configured from this app's traitlets config) and the worker pool."""
        self.backend = LoginBackend(parent=self)
        self.executor = ThreadPoolExecutor(
            max_workers=max(1, self.executor_workers), thread_name_prefix="coder-jupyter"
        )
        self.workspaces = WorkspaceService(parent=self)

    def initialize_handlers(self) -> None:
        """Register the routes; ``ExtensionApp`` prefixes each with the server's ``base_url``."""
        handlers: list[tuple[str, Any]] = [
            (CALLBACK_PATH, CallbackHandler),
            ("coder/api/status", StatusHandler),
            ("coder/api/login", LoginHandler),
            ("coder/api/logout", LogoutHandler),
            ("coder/api/cancel", CancelHandler),
        ]
        handlers += workspace_handlers()  # the JupyterLab "Coder" panel (serverext/workspaces.py)
        self.handlers.extend(handlers)

    async def stop_extension(self) -> None:
        """Stop the worker pool and close the backend's HTTP client."""
        executor = getattr(self, "executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
        workspaces = getattr(self, "workspaces", None)
        if workspaces is not None:
            await workspaces.close()
