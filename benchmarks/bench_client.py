"""Benchmarks of the ``coder`` client against the fake Coder, measured side by side in one run.

Run: ``.venv/bin/python benchmarks/bench_client.py`` (from the repository root). The fake runs in
its own process (``python -m coder_jupyter.testing``) so that server work does not compete with
the client for this process's GIL. Each figure is the median of interleaved repetitions.

1. Per-call overhead: ``coder.workspaces()`` (one page of 20) vs ``httpx.Client.get`` +
   ``json.loads`` of the same URL. Target ≤ 1.10×.
2. Typed decode of a 10 000-workspace listing vs ``json.loads`` of the same bytes. Target ≤ 1.5×.
3. Listing 10 000 workspaces with 50 ms injected server latency (concurrent pages) vs a single
   request of one default page (``limit=page_size``, same latency). Target ≤ 10×. One request
   for all 10 000 (``limit=0``) is printed as a secondary reference.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coder_jupyter.client import Coder  # noqa: E402
from coder_jupyter.client._api import Api  # noqa: E402


@contextlib.contextmanager
def fake_process(*args: str) -> Iterator[dict[str, Any]]:
    """Start ``python -m coder_jupyter.testing`` and yield its JSON line (url, session_token)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "coder_jupyter.testing", "--no-rate-limit", *args],
        stdout=subprocess.PIPE, env=env, text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(10)


def interleaved(fns: dict[str, Callable[[], object]], repeat: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each function, alternating between them on every round."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def report(title: str, ours: float, base: float, target: float, base_name: str) -> None:
    ratio = ours / base
    verdict = "OK" if ratio <= target else "MISS"
    print(f"{title}: {ours * 1e3:9.2f} ms vs {base_name} {base * 1e3:9.2f} ms "
          f"→ {ratio:5.2f}× (target ≤ {target}×) {verdict}")


def bench_overhead() -> None:
    with fake_process("--workspaces", "20") as fake:
        url, token = fake["url"], fake["session_token"]
        headers = {"Coder-Session-Token": token, "Accept": "application/json"}
        params: dict[str, str | int] = {"q": "owner:me", "offset": 0, "limit": 100}
        with Coder(url, token=token) as coder, httpx.Client(headers=headers) as raw:
            endpoint = f"{url}/api/v2/workspaces"
            result = interleaved({
                "coder": lambda: coder.workspaces(),
                "raw": lambda: json.loads(raw.get(endpoint, params=params).content),
            }, repeat=300)
    report("1. coder.workspaces() per call (20 items)", result["coder"], result["raw"], 1.10,
           "httpx.get+json.loads")


def bench_decode_and_latency() -> None:
    with fake_process("--workspaces", "10000") as fake:
        url, token = fake["url"], fake["session_token"]
        headers = {"Coder-Session-Token": token}
        with httpx.Client(headers=headers, timeout=120) as raw:
            data = raw.get(f"{url}/api/v2/workspaces", params={"q": "owner:me"}).content
            api = Api(url)
            check = api.decode_workspaces_page(data)
            assert len(check.workspaces) == 10_000 and check.workspaces[0].created_at is not None
            result = interleaved({
                "typed": lambda: api.decode_workspaces_page(data),
                "json": lambda: json.loads(data),
            }, repeat=15, warmup=1)
            report(f"2. typed decode of 10 000 workspaces ({len(data) / 1e6:.1f} MB)", result["typed"],
                   result["json"], 1.5, "json.loads")

            raw.post(f"{url}/__fake__/faults",
                     json={"kind": "latency", "path": "^/api/v2/workspaces$", "delay": 0.05})
            with Coder(url, token=token, timeout=120) as coder:
                assert len(coder.workspaces()) == 10_000
                result = interleaved({
                    "paged": lambda: coder.workspaces(),
                    "all": lambda: raw.get(f"{url}/api/v2/workspaces", params={"q": "owner:me"}).content,
                    "page": lambda: raw.get(f"{url}/api/v2/workspaces",
                                            params={"q": "owner:me", "limit": coder.page_size}).content,
                }, repeat=7, warmup=1)
            pages = -(-10_000 // coder.page_size)
            report(f"3. coder.workspaces() 10 000 items, 50 ms latency, {pages} pages of {coder.page_size} × "
                   f"{coder.concurrency} concurrent", result["paged"], result["page"], 10,
                   f"one request of one page (limit={coder.page_size})")
            print(f"   (secondary reference: one request for all 10 000, limit=0: "
                  f"{result['all'] * 1e3:.2f} ms → {result['paged'] / result['all']:.2f}×)")


def main() -> None:
    print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}, {os.cpu_count()} CPUs")
    bench_overhead()
    bench_decode_and_latency()


if __name__ == "__main__":
    main()
