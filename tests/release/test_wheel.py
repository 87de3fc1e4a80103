"""The release build: ``python -m build`` gives an sdist and a wheel with a production labextension,
and the wheel, installed into a fresh venv, enables both extensions.

The build runs in a copy of the working tree holding a stale *development* build of the extension
(source maps, ``build_log.json``), as a developer's checkout does after ``bash .ci/setup``: it must
not leak into either artifact. ``--no-isolation`` builds with this venv's hatchling, jupyterlab and
hatch-jupyter-builder (the test extra) instead of downloading them twice into throwaway envs; the
artifacts are the same, and it saves about a minute.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from releasehelpers import ROOT, copy_working_tree

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EXTENSION = "share/jupyter/labextensions/coder-jupyter/"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Dists:
    wheel: Path
    sdist: Path
    wheel_names: list[str]
    sdist_names: list[str]


def _env_with_venv_tools() -> dict[str, str]:
    """jlpm and jupyter (the labextension builder) come from this venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _plant_stale_development_build(tree: Path) -> None:
    out = tree / "coder_jupyter" / "labextension"
    (out / "static").mkdir(parents=True)
    (out / "package.json").write_text((tree / "labextension" / "package.json").read_text())
    (out / "build_log.json").write_text("[]")
    (out / "static" / "style.js").write_text("/* stale development build */")
    (out / "static" / "remoteEntry.0000stale.js").write_text("/* stale */")
    (out / "static" / "remoteEntry.0000stale.js.map").write_text("{}")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    tree = copy_working_tree(tmp_path_factory.mktemp("release") / "src")
    _plant_stale_development_build(tree)
    out = tree.parent / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)],
        env=_env_with_venv_tools(), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        wheel_names = zf.namelist()
    with tarfile.open(sdist) as tf:
        sdist_names = [name.split("/", 1)[1] for name in tf.getnames() if "/" in name]
    return Dists(wheel, sdist, wheel_names, sdist_names)


def _version() -> str:
    return str(json.loads((ROOT / "labextension" / "package.json").read_text())["version"])


def test_the_wheel_ships_one_production_build_of_the_extension(dists: Dists) -> None:
    data = f"coder_jupyter-{_version()}.data/data/"
    prefix = data + EXTENSION
    extension = [n.removeprefix(prefix) for n in dists.wheel_names if n.startswith(prefix)]

    # Production: minified bundles with their third-party licenses; no source maps, no build log
    assert "static/third-party-licenses.json" in extension
    assert "install.json" in extension and "package.json" in extension
    assert not [n for n in dists.wheel_names if n.endswith(".map") or n.endswith("build_log.json")]
    assert not [n for n in extension if "stale" in n]
    # One copy: as shared data only, not a second time inside the Python package
    assert not [n for n in dists.wheel_names if n.startswith("coder_jupyter/labextension")]
    # The server extension is enabled by the config file the wheel installs
    assert f"{data}etc/jupyter/jupyter_server_config.d/coder_jupyter.json" in dists.wheel_names


def test_the_sdist_holds_the_sources_and_a_production_build(dists: Dists) -> None:
    names = dists.sdist_names

    # Then it rebuilds from its TypeScript sources (with the lock file), or installs without Node.js
    assert {"labextension/package.json", "labextension/yarn.lock", "labextension/src/index.ts"} <= set(names)
    assert "coder_jupyter/labextension/static/third-party-licenses.json" in names
    assert not [n for n in names if n.endswith(".map") or n.endswith("build_log.json") or "stale" in n]
    assert not [n for n in names if "node_modules/" in n or n.startswith((".venv/", ".demo/"))]


def test_the_built_wheel_in_a_fresh_venv_enables_both_extensions(dists: Dists, tmp_path: Path) -> None:
    # Given a fresh venv with the wheel and JupyterLab (its dependencies come from pip's cache)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(dists.wheel), "jupyterlab>=4,<5"],
        env=env, capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    def jupyter(*args: str) -> str:
        done = subprocess.run([str(venv / "bin" / "jupyter"), *args], env=env, capture_output=True, text=True)
        return ANSI.sub("", done.stdout + done.stderr)

    # Then JupyterLab finds the prebuilt extension in the venv, and the server extension is enabled
    labextensions = jupyter("labextension", "list")
    assert re.search(rf"{re.escape(str(venv))}/share/jupyter/labextensions\n(\s+.*\n)*?"
                     rf"\s+coder-jupyter v{re.escape(_version())} enabled OK", labextensions), labextensions
    serverextensions = jupyter("server", "extension", "list")
    assert re.search(r"coder_jupyter enabled\n\s+- Validating coder_jupyter...\n\s+coder_jupyter \S+ OK",
                     serverextensions), serverextensions
    # And the kernel side imports from the venv, with the front end's version (no package.json copy)
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import coder_jupyter.widget as w; print(w.__file__); print(w.MODULE_VERSION)"],
        env=env, capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout.split()
    assert probe == [str(venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
                         / "site-packages" / "coder_jupyter" / "widget.py"), _version()]
