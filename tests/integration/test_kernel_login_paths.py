"""Kernel-only front ends (jupyter_client, no browser, no Jupyter server): ``%coder login`` in a
kernel that VS Code started over Remote-SSH takes the paste path and prompts on the stdin channel,
the way VS Code shows an input box."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from coder_jupyter.testing import FakeCoder, fake_coder

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith(("CODER_", "SSH_", "VSCODE_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY"))
           or k in ("CODER_JUPYTER_DIR", "CODER_CONFIG_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def test_vscode_remote_kernel_logs_in_by_pasting_the_address() -> None:
    with fake_coder(workspaces=2, dcr=True) as fake:
        _paste_login(fake)


def _paste_login(fake: FakeCoder) -> None:
    # Given a kernel started by VS Code on a machine reached over SSH (no display)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=_env(CODER_URL=fake.url, VSCODE_PID="4242",
                                  SSH_CONNECTION="10.0.0.2 50000 10.0.0.5 22"))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        prompts: list[str] = []
        pasted: list[str] = []

        def on_output(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append(msg["content"]["evalue"])

        def on_input(msg: dict[str, Any]) -> None:
            prompts.append(msg["content"]["prompt"])
            assert msg["content"]["password"] is True  # not echoed
            # The instructions were printed before the prompt (iopub may lag the stdin channel)
            while not re.search(r"http://\S+/oauth2/authorize\S+", "".join(out)):
                on_output(client.get_iopub_msg(timeout=30))
            url = re.search(r"http://\S+/oauth2/authorize\S+", "".join(out))[0]  # type: ignore[index]
            # When the user approves in a browser elsewhere and pastes where it ended up
            location = fake.consent(url)
            assert location.startswith("http://127.0.0.1:")
            pasted.append(location)
            client.input(location)

        client.execute_interactive("%load_ext coder_jupyter", timeout=60, output_hook=on_output)
        reply = client.execute_interactive("%coder login", timeout=60, output_hook=on_output,
                                           stdin_hook=on_input, allow_stdin=True)
        assert reply["content"]["status"] == "ok"
        text = "".join(out)
        # Then it said what to do, asked once, and is logged in
        assert "copy that whole address" in text and prompts == ["Address after Allow (input hidden): "]
        assert re.search(rf"Logged in to \S+ as {fake.username}", text), text
        # And the pasted address (it holds the code) was never echoed
        code = re.search(r"code=([^&]+)", pasted[0])[1]  # type: ignore[index]
        assert code not in text
        out.clear()
        client.execute_interactive("ws = coder.workspaces('owner:me'); print(len(ws))", timeout=60,
                                   output_hook=on_output)
        assert "".join(out).strip() == "2"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
