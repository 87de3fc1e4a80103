"""notebooks/02-workspaces.ipynb runs top to bottom against the fake Coder (token path)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from coder_jupyter.testing import fake_coder

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02-workspaces.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_the_workspaces_notebook_runs_against_the_fake(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    with fake_coder(workspaces=4, build_step_seconds=0.05) as fake:
        env = {**os.environ, "CODER_URL": fake.url, "CODER_SESSION_TOKEN": fake.session_token,
               "PYTHONPATH": str(NOTEBOOK.parents[1])}
        client = NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}})
        # When
        client.execute(env=env)
        token = fake.session_token
    # Then: every cell ran, the outputs show the data and never the token
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert token not in outputs
    assert "admin/workspace-1" in outputs and "Docker Containers" in outputs
    assert "was not found" in outputs and "admin has 3 running workspaces" in outputs
