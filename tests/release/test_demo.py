"""The README's "Try it": ``bash .ci/demo`` from a clean clone, in chromium, leaves the clone clean.

The demo runs ``.ci/demo.py`` of a fresh copy of the working tree with this venv's interpreter (what
``.ci/demo`` does after ``.ci/setup``), so nothing is reinstalled.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
import pytest
from releasehelpers import ROOT, copy_working_tree, git

NOTEBOOK = "01-getting-started.ipynb"


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coder_jupyter_demo", ROOT / ".ci" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def _notebook(*sources: str, outputs: list[Any] | None = None) -> str:
    cells = [{"cell_type": "code", "execution_count": 1 if outputs else None, "id": f"c{i}", "metadata": {},
              "outputs": outputs or [], "source": src.splitlines(keepends=True)}
             for i, src in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


# --- the copies the demo serves -------------------------------------------------------------------

@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    source, served = tmp_path / "notebooks", tmp_path / ".demo" / "notebooks"
    source.mkdir()
    (source / "a.ipynb").write_text(_notebook("print(1)", "x = 2\nx"))
    return source, served, tmp_path / ".demo" / "notebooks.json"


def test_the_first_start_serves_copies_and_leaves_the_originals_alone(dirs: tuple[Path, Path, Path]) -> None:
    source, served, record = dirs
    original = (source / "a.ipynb").read_bytes()

    kept = demo.refresh_notebooks(source, served, record, "t1")

    assert kept == []
    assert (served / "a.ipynb").read_bytes() == original == (source / "a.ipynb").read_bytes()


def test_a_copy_that_was_only_run_is_refreshed_without_keeping_it(dirs: tuple[Path, Path, Path]) -> None:
    source, served, record = dirs
    demo.refresh_notebooks(source, served, record, "t1")
    # Given the user ran the copy and saved its outputs
    ran = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    (served / "a.ipynb").write_text(_notebook("print(1)", "x = 2\nx", outputs=ran))
    # When the demo starts again
    kept = demo.refresh_notebooks(source, served, record, "t2")
    # Then the copy is fresh again (outputs come back by running it) and nothing was kept aside
    assert kept == [] and not (served / "previous").exists()
    assert (served / "a.ipynb").read_bytes() == (source / "a.ipynb").read_bytes()


def test_an_edited_copy_is_kept_aside_before_the_refresh(dirs: tuple[Path, Path, Path]) -> None:
    source, served, record = dirs
    demo.refresh_notebooks(source, served, record, "t1")
    edited = _notebook("print(1)", "x = 3  # my change\nx")
    (served / "a.ipynb").write_text(edited)

    kept = demo.refresh_notebooks(source, served, record, "t2")

    assert kept == [served / "previous" / "a-t2.ipynb"]
    assert kept[0].read_text() == edited
    assert (served / "a.ipynb").read_bytes() == (source / "a.ipynb").read_bytes()


def test_an_updated_original_replaces_an_unedited_copy(dirs: tuple[Path, Path, Path]) -> None:
    source, served, record = dirs
    demo.refresh_notebooks(source, served, record, "t1")
    # Given the repository's notebook changed (git pull) and the copy was not edited
    (source / "a.ipynb").write_text(_notebook("print('new')"))

    kept = demo.refresh_notebooks(source, served, record, "t2")

    assert kept == []
    assert (served / "a.ipynb").read_bytes() == (source / "a.ipynb").read_bytes()


def test_the_demo_turns_off_jupyter_news_and_update_checks(tmp_path: Path) -> None:
    demo.write_lab_settings(tmp_path)

    settings = tmp_path / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    assert json.loads(settings.read_text()) == {"fetchNews": "false", "checkForUpdates": False}


# --- the whole demo, in a browser -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _consent(popup: Any, username: str, password: str) -> None:
    popup.locator("#username, #allow").first.wait_for()
    if popup.locator("#username").count():
        popup.fill("#username", username)
        popup.fill("#password", password)
        popup.click("#login")
    popup.click("#allow")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(600)
def test_the_demo_from_a_clean_clone_opens_the_notebook_and_leaves_the_clone_clean(
    tmp_path: Path, browser: Any
) -> None:
    # Given a fresh clone, and the demo started in it as the README says
    clone = copy_working_tree(tmp_path / "clone")
    # (The demo keeps its store in the clone's .demo/; CODER_CONFIG_DIR stays the suite's empty one.)
    env = {k: v for k, v in os.environ.items() if k != "CODER_JUPYTER_DIR" and not k.startswith("JUPYTER")}
    env.update(DEMO_PORT=str(_free_port()), DEMO_WORKSPACES="3", PYTHONUNBUFFERED="1")
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(clone / ".ci" / "demo.py"), "--no-browser"], cwd=clone,
                            env=env, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        printed: list[str] = []
        while not any(line.lstrip().startswith("Open http") for line in printed):
            line = proc.stdout.readline()
            assert line, f"the demo exited: {printed} {(tmp_path / 'demo.log').read_text()[-3000:]}"
            printed.append(line)
        text = "".join(printed)
        # Then it says it enabled dynamic client registration, as an admin would, and how to sign in
        assert "Dynamic client registration: enabled by the demo as the fake's admin" in text
        username, password = re.search(r"as '([^']+)' with password '([^']+)'", text).groups()  # type: ignore[union-attr]
        # And the printed URL opens the example notebook, not the Launcher
        url = re.search(r"Open (http://127\.0\.0\.1:\d+/\S+)", text).group(1)  # type: ignore[union-attr]
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/lab/tree/{re.escape(NOTEBOOK)}\?token=\w+", url)
        demo_processes = psutil.Process(proc.pid).children(recursive=True)

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(url)
        page.locator(".lm-TabBar-tab.lm-mod-current", has_text=NOTEBOOK).wait_for()
        assert page.locator(".jp-Launcher").count() == 0
        page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for()

        # When the user runs the first cell, logs in, then runs all cells and saves
        first = page.locator(".jp-Notebook .jp-CodeCell").first
        first.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        widget = page.locator(".coder-jupyter-login")
        with page.expect_popup() as popup:
            widget.locator(".cj-login").click()
        _consent(popup.value, username, password)
        widget.locator(".cj-badge-logged_in").wait_for()
        page.locator(".lm-MenuBar-item", has_text="Run").click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        code_cells = page.locator(".jp-Notebook .jp-CodeCell")
        runs = code_cells.count() + 1  # the first cell ran twice
        code_cells.last.locator(".jp-InputPrompt", has_text=f"[{runs}]").wait_for()
        page.keyboard.press("Control+s")
        page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached")
        # (No "Jupyter news?" toast in all that time)
        assert page.get_by_text("Jupyter news").count() == 0
        context.close()

        # Then the saved copy holds the run, without errors
        saved = json.loads((clone / ".demo" / "notebooks" / NOTEBOOK).read_text())
        outputs = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert f"Hello, {username}!" in json.dumps(outputs)
        assert not [o for o in outputs if o["output_type"] == "error"]
    finally:
        # When the demo is stopped (SIGTERM, by PID)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started
            raise
        finally:
            log.close()
    # Then it stopped the fake Coder and JupyterLab, and the clone's git status is empty
    assert code == 0
    assert not [p for p in demo_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert git(clone, "status", "--porcelain") == ""
