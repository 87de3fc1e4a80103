"""coder_jupyter: log a notebook into a Coder deployment and drive workspaces from Python.

In a notebook::

    %load_ext coder_jupyter        # shows the login widget and defines `coder`
    coder.me()
    coder.workspaces("owner:me")

Headless::

    from coder_jupyter import Coder
    with Coder("https://coder.example.com") as coder:
        print(coder.me().username)

Public names are imported lazily, so that ``import coder_jupyter`` (done by jupyter_server to
find the server extension) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from ._config import CoderConfig
    from .client import AsyncCoder, Coder

__all__ = [
    "AsyncCoder",
    "Coder",
    "CoderConfig",
    "__version__",
    "errors",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LAZY = {
    "Coder": ("coder_jupyter.client", "Coder"),
    "AsyncCoder": ("coder_jupyter.client", "AsyncCoder"),
    "CoderConfig": ("coder_jupyter._config", "CoderConfig"),
    "errors": ("coder_jupyter.errors", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'coder_jupyter' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext coder_jupyter``: define ``coder``, register ``%coder``, show the login widget."""
    from .kernel import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext coder_jupyter``: remove what loading added and stop background work."""
    from .kernel import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .serverext import CoderJupyterApp

    return [{"module": "coder_jupyter", "app": CoderJupyterApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "coder-jupyter"}]
