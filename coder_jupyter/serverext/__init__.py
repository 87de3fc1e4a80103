"""jupyter_server extension: the OAuth callback route and a small JSON API.

``coder_jupyter._jupyter_server_extension_points`` returns
``[{"module": "coder_jupyter", "app": CoderJupyterApp}]``; see :mod:`.app` for configuration and
:mod:`.handlers` for the routes.
"""

from __future__ import annotations

from .app import CoderJupyterApp

__all__ = ["CoderJupyterApp"]
