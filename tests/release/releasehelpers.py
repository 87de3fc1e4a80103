"""What a newcomer gets from a clone: a fresh copy of the working tree to run the demo or a release
build in, so neither touches this checkout (its built extension, its ``.demo/``, its git status)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GIT_ID = ["-c", "user.name=coder-jupyter-tests", "-c", "user.email=tests@coder-jupyter.invalid"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def copy_working_tree(dest: Path) -> Path:
    """Copy the files a clone of this working tree has (tracked and new, never ignored ones) and
    commit them, so ``git status`` in the copy starts clean; uncommitted edits are included."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot of the working tree")
    return dest
