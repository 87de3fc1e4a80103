"""The architecture and the tooling are enforced, not just drawn: import-linter contracts in
pyproject.toml, the public surface pinned (httpx's test_exported_members habit), ruff and mypy
--strict clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import coder_jupyter

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    # When
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    # Then
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_are_pinned() -> None:
    assert coder_jupyter.__all__ == sorted(coder_jupyter.__all__)
    assert coder_jupyter.__all__ == [
        "AsyncCoder", "Coder", "CoderConfig", "__version__", "errors",
        "load_ipython_extension", "unload_ipython_extension",
    ]
    for name in coder_jupyter.__all__:
        assert getattr(coder_jupyter, name) is not None


def test_importing_the_package_is_cheap() -> None:
    # jupyter_server imports the package to find its extension; that must not pull in the client,
    # ipywidgets or IPython.
    code = ("import sys, coder_jupyter; coder_jupyter._jupyter_labextension_paths(); "
            "heavy = [m for m in ('ipywidgets', 'IPython', 'coder_jupyter.client', 'msgspec') "
            "if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([_tool("ruff"), "check", "--output-format", "concise", "coder_jupyter", "tests",
                             "benchmarks"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
