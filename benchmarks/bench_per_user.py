"""What coder_jupyter costs per hub user: kernel memory, open files, threads, idle CPU, store files,
and the server extension's memory and per-request overhead — each measured next to a baseline in
the same run, so the ratios hold on any machine.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_per_user.py [--requests 300] [--idle 5]

Kernel: two IPython kernels side by side. The baseline runs nothing; the other runs
``%load_ext coder_jupyter`` and logs in to a fake Coder through the real OAuth flow (discovery,
dynamic registration, PKCE, consent, code exchange, store), then calls ``coder.me()``.

Server: two single-user Jupyter servers side by side, without and with the ``coder_jupyter`` server
extension. Latency is measured on ``api/status`` (a core route: does the extension slow every
request?) and on ``coder/api/status`` (our route: reads the store, no network).

An admin sizing a hub multiplies the "delta" column by the number of concurrently running
kernels / servers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import psutil
from jupyter_client.manager import KernelManager

from coder_jupyter.testing import FakeCoder, FakeUser

REPO = Path(__file__).resolve().parent.parent
#: A loopback redirect the benchmark catches itself (Coder accepts any port on 127.0.0.1).
REDIRECT_URI = "http://127.0.0.1:9/coder/oauth/callback"
MiB = 1024 * 1024


# ------------------------------------------------------------------------------------ measuring
def process_cost(pid: int) -> dict[str, float]:
    """Memory (RSS, USS, PSS in MiB), open file descriptors and threads of one process."""
    p = psutil.Process(pid)
    mem = p.memory_full_info()
    return {
        "rss_mib": mem.rss / MiB,
        "uss_mib": mem.uss / MiB,
        "pss_mib": getattr(mem, "pss", mem.uss) / MiB,
        "open_fds": float(p.num_fds()),
        "threads": float(p.num_threads()),
    }


def idle_cpu_ms(pid: int, seconds: float) -> float:
    """CPU time (ms) a process burns while nobody talks to it: its background work."""
    p = psutil.Process(pid)
    before = p.cpu_times()
    time.sleep(seconds)
    after = p.cpu_times()
    return float((after.user + after.system) - (before.user + before.system)) * 1000


def store_files(store: Path) -> tuple[int, int]:
    files = [p for p in store.rglob("*") if p.is_file()] if store.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------ kernels
class Kernel:
    """One IPython kernel driven over ZMQ (what a notebook does, without a browser)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=env.get("HOME"), stderr=subprocess.DEVNULL)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.pid)  # type: ignore[union-attr]

    def run(self, code: str, timeout: float = 60) -> str:
        """Execute ``code``; return its stdout; raise with the traceback on error."""
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        if errors:
            raise RuntimeError(f"kernel error running {code!r}:\n{errors[0]}")
        return "".join(out)

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def approve_in_browser(fake: FakeCoder, authorization_url: str, username: str) -> str:
    """Play the user at Coder's consent page: signed in, click Allow. Returns the callback URL."""
    cookies = {"coder_session_token": fake.user(username).session_token}
    with httpx.Client(cookies=cookies, timeout=10) as browser:
        page = browser.get(authorization_url)
        page.raise_for_status()
        match = re.search(r"name='csrf_token' value='([^']*)'", page.text)
        form = {"csrf_token": unescape(match.group(1))} if match else {}
        allowed = browser.post(authorization_url, data=form)
    assert allowed.status_code == 302, allowed.text[:300]
    return allowed.headers["location"]


def bench_kernels(fake: FakeCoder, tmp: Path, idle: float) -> dict[str, dict[str, float]]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CODER_", "JPY_"))}
    base_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base_env.get("PYTHONPATH")]))
    results: dict[str, dict[str, float]] = {}
    kernels: dict[str, Kernel] = {}
    try:
        for name in ("baseline", "coder_jupyter"):
            home = tmp / f"kernel-{name}"
            home.mkdir()
            env = {**base_env, "HOME": str(home)}
            if name == "coder_jupyter":
                env |= {"CODER_URL": fake.url, "CODER_JUPYTER_DIR": str(home / ".coder_jupyter")}
            kernels[name] = Kernel(env)
        ours = kernels["coder_jupyter"]
        # Same warm-up in both kernels, so the delta is only our extension and its login.
        for k in kernels.values():
            k.run("import IPython, ipywidgets")
        t0 = time.perf_counter()
        ours.run("%load_ext coder_jupyter")
        load_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        url = ours.run(f"print(coder.auth.begin_login({REDIRECT_URI!r}).authorization_url)").strip()
        callback = approve_in_browser(fake, url, "alice")
        ours.run(f"coder.auth.finish_login({callback!r})")
        me = ours.run("print(coder.me().username)").strip()
        login_ms = (time.perf_counter() - t0) * 1000
        assert me == "alice", me
        ours.run("coder.workspaces('owner:me')")
        for name, k in kernels.items():
            results[name] = process_cost(k.pid)
        for name, k in kernels.items():
            results[name]["idle_cpu_ms_per_min"] = idle_cpu_ms(k.pid, idle) * 60 / idle
        count, size = store_files(tmp / "kernel-coder_jupyter" / ".coder_jupyter")
        results["coder_jupyter"] |= {"store_files": count, "store_bytes": size,
                                     "load_ext_ms": load_ms, "oauth_login_ms": login_ms}
    finally:
        for k in kernels.values():
            k.stop()
    return results


# ------------------------------------------------------------------------------------ servers
@contextmanager
def jupyter_server(
    tmp: Path, name: str, *, extension: bool, coder_url: str
) -> Iterator[tuple[str, str, int]]:
    """A single-user-like Jupyter server on 127.0.0.1; yields (url, token, pid)."""
    home = tmp / f"server-{name}"
    home.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODER_", "JPY_"))}
    env |= {"HOME": str(home), "CODER_URL": coder_url, "CODER_JUPYTER_DIR": str(home / ".coder_jupyter"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))}
    extensions = repr({"coder_jupyter": extension})
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
           f"--ServerApp.jpserver_extensions={extensions}"]
    log = (tmp / f"server-{name}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError((tmp / f"server-{name}.log").read_text()[-2000:])
            try:
                if httpx.get(f"{url}api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server {name} did not start")
            time.sleep(0.1)
        yield url, token, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def latencies_ms(targets: list[tuple[httpx.Client, str]], n: int) -> list[dict[str, float]]:
    """Median and p95 latency of each ``(client, url)``, sampled round-robin so that machine
    noise hits all targets alike."""
    for client, url in targets:  # warm-up: connections, caches, lazy imports
        for _ in range(10):
            client.get(url).raise_for_status()
    samples: list[list[float]] = [[] for _ in targets]
    for _ in range(n):
        for (client, url), out in zip(targets, samples, strict=True):
            t0 = time.perf_counter()
            client.get(url).raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
    return [
        {"median_ms": statistics.median(xs), "p95_ms": sorted(xs)[int(0.95 * (n - 1))]} for xs in samples
    ]


def bench_servers(fake: FakeCoder, tmp: Path, n: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with jupyter_server(tmp, "baseline", extension=False, coder_url=fake.url) as (url0, tok0, pid0), \
            jupyter_server(tmp, "coder_jupyter", extension=True, coder_url=fake.url) as (url1, tok1, pid1):
        headers0, headers1 = {"Authorization": f"token {tok0}"}, {"Authorization": f"token {tok1}"}
        with httpx.Client(headers=headers0, timeout=10) as c0, \
                httpx.Client(headers=headers1, timeout=10) as c1:
            base, core, ours = latencies_ms(
                [(c0, f"{url0}api/status"), (c1, f"{url1}api/status"), (c1, f"{url1}coder/api/status")], n
            )
        results["baseline"] = process_cost(pid0) | {
            "api_status_median_ms": base["median_ms"], "api_status_p95_ms": base["p95_ms"],
        }
        results["coder_jupyter"] = process_cost(pid1) | {
            "api_status_median_ms": core["median_ms"], "api_status_p95_ms": core["p95_ms"],
            "coder_status_median_ms": ours["median_ms"], "coder_status_p95_ms": ours["p95_ms"],
        }
        results["baseline"]["idle_cpu_ms_per_min"] = idle_cpu_ms(pid0, 2) * 30
        results["coder_jupyter"]["idle_cpu_ms_per_min"] = idle_cpu_ms(pid1, 2) * 30
    return results


# ------------------------------------------------------------------------------------ report
def table(title: str, results: dict[str, dict[str, float]]) -> str:
    base, ours = results["baseline"], results["coder_jupyter"]
    lines = [title, f"  {'metric':<24}{'baseline':>12}{'coder_jupyter':>15}{'delta':>11}{'ratio':>8}"]
    for key in ours:
        b = base.get(key)
        o = ours[key]
        if b is None:
            lines.append(f"  {key:<24}{'-':>12}{o:>15.1f}{'':>11}{'':>8}")
        else:
            ratio = f"{o / b:.2f}" if b else "-"
            lines.append(f"  {key:<24}{b:>12.1f}{o:>15.1f}{o - b:>+11.1f}{ratio:>8}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per latency sample (default 300)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU sampling per kernel")
    parser.add_argument("--json", action="store_true", help="print the raw numbers as JSON too")
    args = parser.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-per-user-") as d, \
            FakeCoder(users=[FakeUser("alice", workspaces=3)],
                      oauth2_rate_limit=None, api_rate_limit=None) as fake:
        tmp = Path(d)
        kernels = bench_kernels(fake, tmp, args.idle)
        servers = bench_servers(fake, tmp, args.requests)
    print(table("Kernel after %load_ext coder_jupyter + OAuth login + coder.me() + workspaces()", kernels))
    print()
    print(table(f"Single-user server without / with the server extension ({args.requests} requests)",
                servers))
    print(f"\n(total {time.perf_counter() - t0:.1f} s; memory in MiB; PSS counts shared pages fairly)")
    if args.json:
        print(json.dumps({"kernel": kernels, "server": servers}, indent=2))


if __name__ == "__main__":
    main()
