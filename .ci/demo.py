"""Start the fake Coder deployment and JupyterLab pointed at it (see README, "Try it").

Environment knobs: CODER_URL (use a real deployment instead of the fake), DEMO_PORT (JupyterLab
port, default 8888), DEMO_WORKSPACES (seeded workspaces, default 6), DEMO_FAKE_ARGS (extra flags
for the fake, e.g. "--no-dcr" or "--generation g1").
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)  # runs the cleanup below, which stops the fake and JupyterLab


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    env = dict(os.environ)
    state = ROOT / ".demo"
    state.mkdir(mode=0o700, exist_ok=True)
    env.setdefault("CODER_JUPYTER_DIR", str(state / "store"))
    children: list[subprocess.Popen[bytes]] = []
    fake_info = None
    if "CODER_URL" not in env:
        fake = subprocess.Popen(
            [PY, "-m", "coder_jupyter.testing", "--port", "0",
             "--workspaces", env.get("DEMO_WORKSPACES", "6"),
             *shlex.split(env.get("DEMO_FAKE_ARGS", ""))],
            stdout=subprocess.PIPE,
        )
        children.append(fake)
        assert fake.stdout is not None
        line = fake.stdout.readline()
        if not line:
            print("demo: the fake Coder deployment did not start", file=sys.stderr)
            return 1
        fake_info = json.loads(line)
        env["CODER_URL"] = fake_info["url"]
    port = env.get("DEMO_PORT", "8888")
    lab = [PY, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--ServerApp.root_dir={ROOT}", "--LabApp.news_url=None",
           "notebooks/01-getting-started.ipynb"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        lab.append("--allow-root")
    print()
    print(f"  Coder deployment: {env['CODER_URL']}")
    if fake_info:
        print(f"  Sign in to the fake Coder as '{fake_info['username']}' with password "
              f"'{fake_info['password']}' when the consent popup asks.")
    print("  JupyterLab is starting; open the URL it prints below (with its token).")
    print()
    jl = subprocess.Popen(lab, env=env)
    children.append(jl)
    try:
        return jl.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


if __name__ == "__main__":
    sys.exit(main())
