"""Kernel side: ``%load_ext coder_jupyter`` (see :mod:`.extension`) and ``%coder`` (:mod:`.magics`).

``coder_jupyter/__init__.py`` delegates ``load_ipython_extension`` / ``unload_ipython_extension``
here.
"""

from __future__ import annotations

from .extension import load_ipython_extension, unload_ipython_extension

__all__ = ["load_ipython_extension", "unload_ipython_extension"]
