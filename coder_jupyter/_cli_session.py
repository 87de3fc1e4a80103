"""The Coder CLI's stored session: its config directory and its ``url`` and ``session`` files.

Read-only: this module never writes the CLI's files (:mod:`coder_jupyter._cli_share` does, to
share a notebook login with the CLI). Used by the configuration (the CLI's ``url`` as a default
deployment) and by credential discovery (the CLI's session token as a source).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["coder_cli_config_dir", "default_cli_config_dir", "read_cli_session"]


def coder_cli_config_dir() -> Path:
    """The Coder CLI's config directory: ``CODER_CONFIG_DIR``, else :func:`default_cli_config_dir`."""
    env = os.environ.get("CODER_CONFIG_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    return default_cli_config_dir()


def default_cli_config_dir(platform: str | None = None) -> Path:
    """The CLI's default config directory, ``<user config dir>/coderv2`` (``$XDG_CONFIG_HOME`` or
    ``~/.config`` on Linux, ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on
    Windows), as ``configdir.LocalConfig("coderv2")`` in Coder's ``cli/root.go``.
    ``platform`` defaults to :data:`sys.platform`."""
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "coderv2"


def read_cli_session(config_dir: Path | None = None) -> tuple[str | None, str | None]:
    """``(url, session token)`` from the Coder CLI's ``url`` and ``session`` files (either may be
    ``None``). Never raises for a missing or unreadable file."""

    def read(name: str) -> str | None:
        try:
            text = (directory / name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text or None

    directory = config_dir if config_dir is not None else coder_cli_config_dir()
    return read("url"), read("session")
