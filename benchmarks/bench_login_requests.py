"""The requests a notebook sends to Coder for a login: a first login, then a repeat login.

Run: ``.venv/bin/python benchmarks/bench_login_requests.py`` (from the repository root).

Each login runs in a fresh :class:`~coder_jupyter._login.AuthManager` (a new kernel) sharing one
credential store, against the fake Coder (today's generation, G4) with dynamic client
registration on, and then with an admin's pre-registered app. The requests are read from the
fake's request log; the browser's own requests (the consent page) are left out, since the
notebook does not send them. Each line says why the request is needed.

Before discovery was cached across logins, every login discovered again: a repeat login sent 2
requests before the consent page with DCR (discovery + RFC 7592 read) and 1 with an admin's app.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coder_jupyter._login import AuthManager  # noqa: E402
from coder_jupyter.testing import FakeCoder, fake_coder  # noqa: E402

REDIRECT = "http://127.0.0.1:8123/callback"

#: Why each notebook-side request is sent, by (method, route).
WHY = {
    ("GET", "/.well-known/oauth-authorization-server"):
        "discovery (RFC 8414): endpoints, scopes_supported, whether DCR is on; cached 1 h in the store",
    ("POST", "/oauth2/register"):
        "dynamic registration (RFC 7591) with the scope allowlist; stored for every later login",
    ("GET", "/oauth2/clients/{client_id}"):
        "RFC 7592 read: our stored client still exists with this redirect URI and allowlist "
        "(else the consent page would fail on an unknown client)",
    ("PUT", "/oauth2/clients/{client_id}"):
        "RFC 7592 update: a new redirect URI or a different scope allowlist",
    ("POST", "/oauth2/tokens"): "code exchange (PKCE): the tokens and the granted scope",
    ("GET", "/api/v2/users/{user}"): "users/me: who logged in (the name the widget and %coder status show)",
}
BROWSER = {"/oauth2/authorize"}


@contextmanager
def isolated_store() -> Iterator[None]:
    old = os.environ.get("CODER_JUPYTER_DIR")
    with tempfile.TemporaryDirectory() as root:
        os.environ["CODER_JUPYTER_DIR"] = root
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("CODER_JUPYTER_DIR", None)
            else:
                os.environ["CODER_JUPYTER_DIR"] = old


def login(fake: FakeCoder) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """One login in a new manager: (requests before the consent page, requests after it)."""
    fake.clear_requests()
    auth = AuthManager(fake.url)
    started = auth.begin_login(REDIRECT)
    before = [(r.method, r.route) for r in fake.requests if r.route not in BROWSER]
    callback = fake.consent(started.authorization_url)
    fake.clear_requests()
    auth.finish_login(callback)
    after = [(r.method, r.route) for r in fake.requests if r.route not in BROWSER]
    return before, after


def show(title: str, before: list[tuple[str, str]], after: list[tuple[str, str]]) -> int:
    print(f"  {title}: {len(before)} before the consent page opens, {len(after)} after it")
    for phase, requests in (("before", before), ("after ", after)):
        for method, route in requests:
            print(f"    {phase}  {method:6} {route:42} {WHY.get((method, route), '?')}")
    return len(before)


def main() -> None:
    for kind in ("dynamic registration", "pre-registered app"):
        with isolated_store(), fake_coder(dcr=kind == "dynamic registration") as fake:
            if kind == "pre-registered app":
                app = fake.create_oauth2_app("Jupyter", REDIRECT)
                os.environ["CODER_OAUTH_CLIENT_ID"] = app.client_id
                os.environ["CODER_OAUTH_CLIENT_SECRET"] = app.client_secret
            try:
                print(f"Coder G4, {kind}:")
                first = show("first login ", *login(fake))
                repeat = show("repeat login", *login(fake))
                print(f"  requests before the consent page, repeat vs first: {repeat}/{first} "
                      f"= {repeat / first:.2f}x")
            finally:
                os.environ.pop("CODER_OAUTH_CLIENT_ID", None)
                os.environ.pop("CODER_OAUTH_CLIENT_SECRET", None)


if __name__ == "__main__":
    main()
