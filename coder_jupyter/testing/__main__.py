"""``python -m coder_jupyter.testing``: run a fake Coder deployment until SIGTERM/SIGINT.

Once ready it prints exactly one JSON line to stdout::

    {"url": "http://127.0.0.1:41234", "username": "admin", "password": "...", "session_token": "..."}

Everything else (request log with ``--verbose``) goes to stderr, with secrets redacted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._faults import Fault
from ._server import DEFAULT_PASSWORD, DEFAULT_USERNAME, FakeCoder, FakeUser


def _fault(text: str) -> Fault:
    try:
        data = json.loads(text)
        return Fault(**data)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"invalid --fault {text!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m coder_jupyter.testing", description="Run a fake Coder deployment."
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    p.add_argument(
        "--generation",
        choices=("g1", "g2", "g3", "g4"),
        default="g4",
        help="OAuth provider generation (default g4, today's Coder)",
    )
    p.add_argument(
        "--workspaces", type=int, default=0, metavar="N", help="seed N workspaces for the default user"
    )
    p.add_argument("--users", type=int, default=0, metavar="N", help="also seed member users user1..userN")
    p.add_argument("--username", default=DEFAULT_USERNAME, help="default (owner) user name")
    p.add_argument("--password", default=DEFAULT_PASSWORD, help="password of every seeded user")
    p.add_argument("--access-token-ttl", type=float, default=86400.0, metavar="SECONDS")
    p.add_argument("--refresh-token-ttl", type=float, default=30 * 86400.0, metavar="SECONDS")
    p.add_argument("--code-ttl", type=float, default=600.0, metavar="SECONDS")
    p.add_argument("--build-step-seconds", type=float, default=0.2, metavar="SECONDS")
    p.add_argument("--no-oauth2", action="store_true", help="turn the OAuth2 provider off")
    dcr = p.add_mutually_exclusive_group()
    dcr.add_argument(
        "--dcr",
        dest="dcr",
        action="store_const",
        const=True,
        default=None,
        help="start with dynamic client registration on (G4 default: off, as on a fresh deployment)",
    )
    dcr.add_argument("--no-dcr", dest="dcr", action="store_const", const=False, help="start with DCR off")
    p.add_argument("--no-rate-limit", action="store_true", help="disable /oauth2 and /api/v2 rate limits")
    p.add_argument("--cancel-link-bug", action="store_true", help="reproduce coder/coder#24058 (#ZgotmplZ)")
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay every response")
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="JSON",
        help='inject a fault, e.g. \'{"kind":"error","path":"^/api/v2/workspaces$","status":503,"count":2}\'',
    )
    p.add_argument("--verbose", action="store_true", help="log requests (secrets redacted) to stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = list(args.fault)
    if args.latency > 0:
        faults.append(Fault(kind="latency", delay=args.latency))
    limit_off = args.no_rate_limit
    fake = FakeCoder(
        host=args.host,
        port=args.port,
        generation=args.generation,
        oauth2=not args.no_oauth2,
        dcr=args.dcr,
        workspaces=args.workspaces,
        users=[FakeUser(f"user{i}") for i in range(1, args.users + 1)],
        username=args.username,
        password=args.password,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        code_ttl=args.code_ttl,
        build_step_seconds=args.build_step_seconds,
        oauth2_rate_limit=None if limit_off else 60,
        api_rate_limit=None if limit_off else 512,
        cancel_link_bug=args.cancel_link_bug,
        faults=faults,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    line = {
        "url": fake.url,
        "username": fake.username,
        "password": fake.password,
        "session_token": fake.session_token,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    seen = 0
    try:
        while not stop.wait(0.2):
            if args.verbose:
                records = fake.requests
                for r in records[seen:]:
                    query = f"?{r.query}" if r.query else ""
                    print(f"{r.status} {r.method} {r.path}{query}", file=sys.stderr, flush=True)
                seen = len(records)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
