"""Start the fake Coder deployment and JupyterLab pointed at it (see README, "Try it").

Everything the demo writes stays in ``.demo/`` (gitignored): the credential store, JupyterLab's
settings and layout, and the notebooks it serves. JupyterLab serves *copies* of
``notebooks/*.ipynb`` from ``.demo/notebooks/``, so running and saving them never changes the
repository. Each start refreshes the copies from ``notebooks/``. Outputs are simply replaced; a
copy whose cells you edited (code or text) is first kept as
``.demo/notebooks/previous/<name>-<time>.ipynb``.

Arguments are passed on to JupyterLab (e.g. ``--no-browser``). Environment knobs: CODER_URL (use a
real deployment instead of the fake), DEMO_PORT (JupyterLab's first port to try, default 8888),
DEMO_WORKSPACES (seeded workspaces, default 6), DEMO_FAKE_ARGS (extra flags for the fake, e.g.
"--no-dcr" to leave dynamic client registration off, or "--generation g1").
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
#: The notebook the printed URL opens.
FIRST_NOTEBOOK = "01-getting-started.ipynb"
#: JupyterLab's notification settings: no "Jupyter news?" prompt, no update check.
QUIET_NOTIFICATIONS = {"fetchNews": "false", "checkForUpdates": False}


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)  # runs the cleanup in main(), which stops the fake and JupyterLab


def _cells_fingerprint(notebook: Path) -> str | None:
    """What a person edits in a notebook (cell types and sources), hashed; None if unreadable.

    Outputs, execution counts and metadata are left out: running a notebook changes those, and
    a fresh copy brings them back by running it again.
    """
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        parts = [[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]]
                 for c in cells]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def refresh_notebooks(source: Path, served: Path, record: Path, stamp: str) -> list[Path]:
    """Copy ``source/*.ipynb`` into ``served/``; return the edited copies kept aside first.

    ``record`` remembers the fingerprint of each copy as written, so a copy counts as edited only
    when its cells differ from what the demo put there (not merely from a newer ``source``).
    """
    served.mkdir(parents=True, exist_ok=True)
    try:
        written: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        written = {}
    kept: list[Path] = []
    for original in sorted(source.glob("*.ipynb")):
        copy = served / original.name
        if copy.exists():
            before = written.get(original.name, _cells_fingerprint(original))
            if _cells_fingerprint(copy) != before:
                previous = served / "previous" / f"{original.stem}-{stamp}.ipynb"
                previous.parent.mkdir(exist_ok=True)
                copy.replace(previous)
                kept.append(previous)
        shutil.copyfile(original, copy)
        written[original.name] = _cells_fingerprint(original)
    record.write_text(json.dumps(written, indent=1), encoding="utf-8")
    return kept


def write_lab_settings(settings: Path) -> None:
    """JupyterLab user settings the demo controls (JUPYTERLAB_SETTINGS_DIR points here)."""
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps(QUIET_NOTIFICATIONS), encoding="utf-8")


def enable_dynamic_registration(coder_url: str, admin_token: str) -> str:
    """Turn on DCR as a Coder owner does once (Coder's default is off); return what happened."""
    try:
        response = httpx.put(
            f"{coder_url}/api/v2/oauth2-provider/settings",
            json={"dynamic_client_registration_enabled": True},
            headers={"Coder-Session-Token": admin_token},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        return f"could not be enabled ({type(exc).__name__}); logins will say how to proceed"
    if response.status_code != 200:
        return f"could not be enabled (HTTP {response.status_code}); logins will say how to proceed"
    return ("enabled by the demo as the fake's admin "
            "(PUT /api/v2/oauth2-provider/settings, as a Coder owner does once)")


def wait_for_lab(lab: subprocess.Popen[bytes], runtime: Path, started: float,
                 timeout: float = 180) -> dict[str, Any] | None:
    """The server-info file JupyterLab writes once it listens; None if it exits or times out.

    A file older than ``started`` is a leftover of a killed earlier run whose PID was reused.
    """
    info_file = runtime / f"jpserver-{lab.pid}.json"
    deadline = time.monotonic() + timeout
    while lab.poll() is None and time.monotonic() < deadline:
        try:
            if info_file.stat().st_mtime >= started:
                info: dict[str, Any] = json.loads(info_file.read_text(encoding="utf-8"))
                return info
        except (OSError, ValueError):  # not written yet, or half-written
            pass
        time.sleep(0.2)
    return None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    env = dict(os.environ)
    state = ROOT / ".demo"
    state.mkdir(mode=0o700, exist_ok=True)
    served = state / "notebooks"
    kept = refresh_notebooks(ROOT / "notebooks", served, state / "notebooks.json",
                             time.strftime("%Y%m%d-%H%M%S"))
    write_lab_settings(state / "lab-settings")
    runtime = state / "runtime"
    env.setdefault("CODER_JUPYTER_DIR", str(state / "store"))
    env["JUPYTERLAB_SETTINGS_DIR"] = str(state / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(state / "lab-workspaces")
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)

    children: list[subprocess.Popen[bytes]] = []
    try:
        lines = [f"Notebooks: copies in {served.relative_to(ROOT)}/ (notebooks/ itself stays unchanged)"]
        lines += [f"Your edited copy was kept as {p.relative_to(ROOT)}" for p in kept]
        if "CODER_URL" not in env:
            fake_args = shlex.split(env.get("DEMO_FAKE_ARGS", ""))
            fake = subprocess.Popen(  # noqa: S603 (the demo runs what its user configured)
                [PY, "-m", "coder_jupyter.testing", "--port", "0",
                 "--workspaces", env.get("DEMO_WORKSPACES", "6"), *fake_args],
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
            lines.append(f"Coder deployment: {env['CODER_URL']} (a fake, on this machine)")
            if "--no-dcr" in fake_args:
                lines.append("Dynamic client registration: left off (--no-dcr)")
            else:
                dcr = enable_dynamic_registration(env["CODER_URL"], fake_info["session_token"])
                lines.append(f"Dynamic client registration: {dcr}")
            lines.append(f"Sign in to the fake Coder as '{fake_info['username']}' with password "
                         f"'{fake_info['password']}' when the consent popup asks.")
        else:
            lines.append(f"Coder deployment: {env['CODER_URL']}")

        lab_cmd = [PY, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={env.get('DEMO_PORT', '8888')}", f"--ServerApp.root_dir={served}",
                   f"--LabApp.default_url=/lab/tree/{quote(FIRST_NOTEBOOK)}",
                   "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            lab_cmd.append("--allow-root")
        started = time.time() - 1  # (file system timestamps can be coarser than the clock)
        lab = subprocess.Popen([*lab_cmd, *argv], env=env)  # noqa: S603
        children.append(lab)
        info = wait_for_lab(lab, runtime, started)
        if info is None:
            print("demo: JupyterLab did not start (see its messages above)", file=sys.stderr)
            return 1
        url = f"{info['url']}lab/tree/{quote(FIRST_NOTEBOOK)}?token={info['token']}"
        print("\n" + "\n".join(f"  {text}" for text in lines), flush=True)
        print(f"\n  Open {url}\n  (Ctrl+C stops the demo)\n", flush=True)
        return lab.wait()
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
    sys.exit(main(sys.argv[1:]))
