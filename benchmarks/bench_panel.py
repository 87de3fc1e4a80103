"""The Coder panel's first load with 10 000 workspaces, side by side with the kernel client's listing.

Run: ``.venv/bin/python benchmarks/bench_panel.py`` (from the repository root). Three processes:
the fake Coder (10 000 workspaces for its default user), a real ``jupyter server`` with the
coder_jupyter extension (what the panel talks to), and this script, which plays the browser
(plain HTTP to ``coder/api/workspaces``) and the kernel (``Coder().workspaces()``). Both sign
with the same Coder session token (``CODER_SESSION_TOKEN``), so only the listing differs.

Measured, each the median of interleaved repetitions, with no injected latency and again with
50 ms per Coder request:

1. Time to first rows: the panel's first page (``limit=50``, what the list shows first) vs
   the kernel's ``coder.workspaces("owner:me")`` (all 10 000: a notebook has rows only then).
2. Bytes the browser receives for that first page vs the bytes of the full listing.
3. Memory: the Jupyter server's RSS growth after serving 20 first pages, vs a fresh Python
   process's RSS growth after ``coder.workspaces()`` of the 10 000.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_client import fake_process, interleaved  # noqa: E402

from coder_jupyter.client import Coder  # noqa: E402

PAGE = 50
KERNEL_RSS = """
import json, sys, psutil
from coder_jupyter.client import Coder
me = psutil.Process()
coder = Coder(sys.argv[1], token=sys.argv[2], timeout=120)
coder.me()
before = me.memory_info().rss
rows = coder.workspaces("owner:me")
assert len(rows) == 10_000
print(json.dumps({"delta": me.memory_info().rss - before}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def jupyter_server(coder_url: str, coder_token: str) -> Iterator[tuple[str, str, int]]:
    """A real jupyter server with the extension; yields (base URL, Jupyter token, pid)."""
    with tempfile.TemporaryDirectory() as tmp:
        port, token = _free_port(), secrets.token_hex(16)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CODER_URL": coder_url,
               "CODER_SESSION_TOKEN": coder_token, "CODER_JUPYTER_DIR": f"{tmp}/store",
               "CODER_CONFIG_DIR": f"{tmp}/coderv2", "JUPYTER_RUNTIME_DIR": f"{tmp}/runtime"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}api/status", params={"token": token}).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("jupyter server did not start")
                time.sleep(0.2)
            yield url, token, proc.pid
        finally:
            proc.terminate()
            proc.wait(15)


def kernel_rss_delta(url: str, token: str) -> int:
    out = subprocess.run([sys.executable, "-c", KERNEL_RSS, url, token], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return int(json.loads(out.stdout)["delta"])


def main() -> None:
    print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}, {os.cpu_count()} CPUs")
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(fake_process("--workspaces", "10000"))
        curl, ctoken = fake["url"], fake["session_token"]
        jurl, jtoken, jpid = stack.enter_context(jupyter_server(curl, ctoken))
        browser = httpx.Client(headers={"Authorization": f"token {jtoken}"}, timeout=120)
        route = f"{jurl}coder/api/workspaces"
        params = {"q": "owner:me", "offset": "0", "limit": str(PAGE)}
        server = psutil.Process(jpid)
        browser.get(f"{jurl}coder/api/status").raise_for_status()
        rss0 = server.memory_info().rss

        t0 = time.perf_counter()
        first = browser.get(route, params=params)
        cold = time.perf_counter() - t0
        first.raise_for_status()
        body = first.json()
        assert body["count"] == 10_000 and len(body["workspaces"]) == PAGE

        with Coder(curl, token=ctoken, timeout=120) as coder:
            full = httpx.get(f"{curl}/api/v2/workspaces", params={"q": "owner:me", "limit": 0},
                             headers={"Coder-Session-Token": ctoken}, timeout=120).content
            for label, latency in (("no added latency", 0.0), ("50 ms per Coder request", 0.05)):
                if latency:
                    fault = {"kind": "latency", "path": "^/api/v2/workspaces$", "delay": latency}
                    httpx.post(f"{curl}/__fake__/faults", json=fault).raise_for_status()
                result = interleaved({
                    "panel": lambda: browser.get(route, params=params).json()["workspaces"],
                    "kernel": lambda: coder.workspaces("owner:me"),
                }, repeat=7, warmup=1)
                print(f"1. time to first rows ({label}): panel first page {result['panel'] * 1e3:8.1f} ms"
                      f" vs kernel coder.workspaces() {result['kernel'] * 1e3:8.1f} ms"
                      f" → {result['kernel'] / result['panel']:6.1f}× sooner")
            print(f"   (the panel's very first call, creating the server's client: {cold * 1e3:.1f} ms)")

        for _ in range(20):
            browser.get(route, params=params).raise_for_status()
        server_delta = server.memory_info().rss - rss0
        kernel_delta = kernel_rss_delta(curl, ctoken)
        print(f"2. bytes to the browser: first page {len(first.content) / 1e3:8.1f} kB"
              f" vs the full listing {len(full) / 1e6:6.2f} MB → {len(full) / len(first.content):6.0f}× less")
        print(f"3. memory: jupyter server +{server_delta / 1e6:6.1f} MB after 20 first pages"
              f" vs kernel process +{kernel_delta / 1e6:6.1f} MB for coder.workspaces()"
              f" → {kernel_delta / max(server_delta, 1):6.1f}×")
        browser.close()


if __name__ == "__main__":
    main()
