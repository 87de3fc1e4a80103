"""The kernel side in real IPython kernels (jupyter_client), talking to a fake Coder over HTTP.

Each test starts one kernel with its own environment: ``CODER_URL`` / ``CODER_SESSION_TOKEN``
pointing at a fake started in the test, and the store and Coder CLI directories that the suite's
autouse fixture made empty for this test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from coder_jupyter.testing import FakeCoder, fake_coder

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


@dataclass
class Result:
    """What one cell produced."""

    stdout: str = ""
    stderr: str = ""
    data: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """Everything visible as text: streams, plain/HTML bundles, the error."""
        parts = [self.stdout, self.stderr]
        for bundle in self.data:
            parts += [str(bundle.get("text/plain", "")), str(bundle.get("text/html", ""))]
        if self.error:
            parts += [self.error["ename"], self.error["evalue"]]
        return "\n".join(parts)


class Kernel:
    """A running kernel; :meth:`run` executes a cell and collects its output."""

    def __init__(self, client: BlockingKernelClient) -> None:
        self.client = client

    def run(self, code: str, *, timeout: float = 60) -> Result:
        result = Result()

        def on_output(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind in ("display_data", "execute_result", "update_display_data"):
                result.data.append(content["data"])
            elif kind == "error":
                result.error = content

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=on_output,
                                                allow_stdin=False)
        assert reply["content"]["status"] in ("ok", "error")
        return result

    def ok(self, code: str) -> Result:
        result = self.run(code)
        assert result.error is None, result.error
        return result


def _start_kernel(env: dict[str, str]) -> Iterator[Kernel]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield Kernel(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def kernel_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODER_") or k in (
        "CODER_JUPYTER_DIR", "CODER_CONFIG_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


@pytest.fixture
def fake() -> Iterator[FakeCoder]:
    with fake_coder(workspaces=2, oauth2_rate_limit=None, api_rate_limit=None, dcr=True) as deployment:
        yield deployment


@pytest.fixture
def kernel_with_token(fake: FakeCoder) -> Iterator[Kernel]:
    yield from _start_kernel(kernel_env(CODER_URL=fake.url, CODER_SESSION_TOKEN=fake.session_token))


@pytest.fixture
def kernel_without_credentials(fake: FakeCoder) -> Iterator[Kernel]:
    yield from _start_kernel(kernel_env(CODER_URL=fake.url))


def test_load_ext_with_a_session_token_logs_in_without_a_click(
    kernel_with_token: Kernel, fake: FakeCoder
) -> None:
    kernel = kernel_with_token

    # When
    loaded = kernel.ok("%load_ext coder_jupyter")

    # Then it says who is logged in, and `coder` works at once
    assert f"Logged in to {fake.url}" in loaded.text and f"as {fake.username}" in loaded.text
    assert fake.session_token not in loaded.text
    me = kernel.ok("print(coder.me().username)")
    assert me.stdout.strip() == fake.username
    workspaces = kernel.ok('print(len(coder.workspaces("owner:me")))')
    assert workspaces.stdout.strip() == "2"


def test_loading_twice_is_harmless_and_unloading_cleans_up(kernel_with_token: Kernel) -> None:
    kernel = kernel_with_token
    kernel.ok("%load_ext coder_jupyter")
    kernel.ok("first = coder")

    # When loaded again (also through the module's hook, which %load_ext would skip)
    kernel.ok("%load_ext coder_jupyter")
    kernel.ok("import coder_jupyter; coder_jupyter.load_ipython_extension(get_ipython())")

    # Then the same client is still there and %coder still works
    assert kernel.ok("print(coder is first)").stdout.strip() == "True"
    assert "Status:     logged_in" in kernel.ok("%coder status").stdout

    # When unloaded
    kernel.ok("%unload_ext coder_jupyter")

    # Then `coder` and %coder are gone
    assert kernel.ok("print('coder' in globals())").stdout.strip() == "False"
    gone = kernel.run("%coder status")
    assert "Line magic function `%coder` not found" in gone.stderr


def test_coder_status_shows_deployment_user_method_and_never_the_token(
    kernel_with_token: Kernel, fake: FakeCoder
) -> None:
    kernel = kernel_with_token
    kernel.ok("%load_ext coder_jupyter")

    # When
    status = kernel.ok("%coder status --check")

    # Then
    assert f"Deployment: {fake.url}" in status.stdout
    assert f"User:       {fake.username}" in status.stdout
    assert "Method:     CODER_SESSION_TOKEN" in status.stdout
    assert fake.session_token not in status.text
    assert fake.session_token.split("-")[-1] not in status.text


def test_without_credentials_calls_say_to_click_log_in(kernel_without_credentials: Kernel) -> None:
    kernel = kernel_without_credentials

    # When
    loaded = kernel.ok("%load_ext coder_jupyter")

    # Then the widget is offered, with a text fallback, and the cell returned at once
    assert any("application/vnd.jupyter.widget-view+json" in bundle for bundle in loaded.data)
    assert all("text/plain" in b and "text/html" in b for b in loaded.data)
    assert "%coder login" in loaded.text
    failed = kernel.run("coder.me()")
    assert failed.error is not None
    assert failed.error["ename"] == "NotLoggedInError"
    assert "Log in" in failed.error["evalue"]


def test_coder_logout_magic_updates_the_widget_above(
    kernel_without_credentials: Kernel, fake: FakeCoder
) -> None:
    kernel = kernel_without_credentials
    # Given an API token saved in the store earlier, so %load_ext shows a logged-in widget
    kernel.ok(f"from coder_jupyter import Coder; _ = Coder().auth.login_with_token({fake.session_token!r})")
    kernel.ok("%load_ext coder_jupyter")
    widget_status = ("from coder_jupyter.kernel.extension import _sessions; "
                     "print(next(iter(_sessions.values())).widget.status)")
    assert kernel.ok(widget_status).stdout.strip() == "logged_in"
    # When the user logs out with the magic
    out = kernel.ok("%coder logout")
    # Then the widget above follows, and nothing secret was printed
    assert "Logged out" in out.text and fake.session_token not in out.text
    assert kernel.ok(widget_status).stdout.strip() == "logged_out"


def test_a_users_own_coder_variable_is_left_alone(kernel_without_credentials: Kernel) -> None:
    kernel = kernel_without_credentials
    kernel.ok("coder = 'mine'")

    # When
    loaded = kernel.ok("%load_ext coder_jupyter")

    # Then
    assert "already names something else" in loaded.text
    assert kernel.ok("print(coder)").stdout.strip() == "mine"
    kernel.ok("%unload_ext coder_jupyter")
    assert kernel.ok("print(coder)").stdout.strip() == "mine"


def test_coder_use_switches_deployment(fake: FakeCoder) -> None:
    with fake_coder(username="bob", oauth2_rate_limit=None, api_rate_limit=None, dcr=True) as other:
        env = kernel_env(CODER_SESSION_TOKEN=other.session_token)
        for kernel in _start_kernel(env):
            # Given no deployment configured
            loaded = kernel.ok("%load_ext coder_jupyter")
            assert "%coder use" in loaded.text
            assert kernel.run("coder.me()").error["ename"] == "NotLoggedInError"  # type: ignore[index]

            # When
            switched = kernel.ok(f"%coder use {other.url}")

            # Then
            assert f"Logged in to {other.url} as bob" in switched.text
            assert kernel.ok("print(coder.me().username)").stdout.strip() == "bob"
            assert other.session_token not in switched.text


def test_coder_use_refuses_an_unknown_name(kernel_without_credentials: Kernel) -> None:
    kernel = kernel_without_credentials
    kernel.ok("%load_ext coder_jupyter")

    # When
    result = kernel.ok("%coder use staging")

    # Then
    assert "neither a deployment URL nor a configured name" in result.stderr


def test_getting_started_notebook_runs_by_token_and_leaks_nothing(fake: FakeCoder, tmp_path: Path) -> None:
    import json

    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "notebooks" / "01-getting-started.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "the notebook is committed without outputs"

    # When CI runs it with the token path (no browser)
    client = NotebookClient(notebook, kernel_name="python3", timeout=60, store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=kernel_env(CODER_URL=fake.url, CODER_SESSION_TOKEN=fake.session_token))

    # Then every cell ran, it greeted the user, and the saved notebook holds no secret
    saved = json.dumps(nbformat.from_dict(notebook))
    assert f"Logged in to {fake.url} as {fake.username}" in saved
    assert fake.session_token not in saved
    assert fake.session_token.split("-")[-1] not in saved
    widgets = json.dumps(notebook.metadata.get("widgets", {}))
    assert fake.session_token not in widgets
