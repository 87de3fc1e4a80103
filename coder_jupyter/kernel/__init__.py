"""Kernel side: ``%load_ext coder_jupyter``.

Lead's note to the owner: ``coder_jupyter/__init__.py`` calls
``coder_jupyter.kernel.load_ipython_extension(ip)`` and ``unload_ipython_extension(ip)``;
export those two names from here.
"""
