"""The stand-in Coder CLI (``tests/bin/coder``) and a home directory of its own for each test.

Import with ``from clihelpers import ...`` after ``sys.path`` holds ``tests/`` (the test modules
that use it add it), or use the fixture ``cli_home`` registered in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The directory holding the stand-in ``coder`` executable.
BIN = Path(__file__).resolve().parent / "bin"
STAND_IN = BIN / "coder"


@dataclass(frozen=True)
class CliHome:
    """An isolated home: ``HOME`` and ``XDG_CONFIG_HOME`` point here, ``CODER_CONFIG_DIR`` is unset,
    and the stand-in ``coder`` is first on ``PATH``."""

    home: Path

    @property
    def default_dir(self) -> Path:
        """The CLI's default config directory (``$XDG_CONFIG_HOME/coderv2``)."""
        return self.home / ".config" / "coderv2"

    def env(self, **extra: str) -> dict[str, str]:
        """The current environment plus ``extra`` (for a child process)."""
        env = dict(os.environ)
        env.update(extra)
        return env

    def coder(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the stand-in CLI like a terminal would."""
        return subprocess.run([str(STAND_IN), *args], env=env if env is not None else self.env(),
                              capture_output=True, text=True, timeout=60, check=False)

    def user_login(self, url: str, token: str) -> None:
        """Play ``coder login`` in a terminal: the user's own session in the default directory."""
        done = self.coder("login", "--use-token-as-session", url, env=self.env(CODER_SESSION_TOKEN=token))
        assert done.returncode == 0, done.stderr
