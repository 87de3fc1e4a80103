"""`coder` in a JupyterLab terminal after the explicit step (issue #14): a real Jupyter server
(pytest-jupyter) with jupyter_server_terminals, terminado's websocket, the stand-in Coder CLI
(``tests/bin/coder``) and the fake Coder over HTTP.

The terminal's shell inherits the server's environment: an isolated home (``cli_home``), no
``CODER_URL`` and no ``CODER_CONFIG_DIR``, so the CLI reads its *default* config directory —
the one ``coder/api/cli`` writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from clihelpers import CliHome
from oauthhelpers import login_by_consent
from pytest_jupyter.jupyter_server import *  # noqa: F403 -- module-local pytest-jupyter fixtures
from test_serverext import _cookie_login, anonymous_xsrf
from tornado.httpclient import HTTPResponse

from coder_jupyter._config import CoderConfig
from coder_jupyter._credentials import store_for
from coder_jupyter.testing import FakeCoder

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.coder_fake(dcr=True, oauth2_rate_limit=None, api_rate_limit=None)]

T = TypeVar("T")


@pytest.fixture
def jp_server_config(coder_fake: FakeCoder, cli_home: CliHome) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"coder_jupyter": True, "jupyter_server_terminals": True},
            # Not bash -l: a login shell's /etc/profile would reset PATH (and drop the stand-in).
            "terminado_settings": {"shell_command": ["/bin/sh"]},
        },
        "CoderConfig": {"url": coder_fake.url},
        "CoderJupyterApp": {"cli_refresh_interval": 0.1},
    }


class Server:
    """Drives the Jupyter server's loop from a synchronous test."""

    def __init__(self, jp_fetch: Any, jp_ws_fetch: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._fetch, self._ws_fetch, self.loop = jp_fetch, jp_ws_fetch, loop

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def fetch(self, *parts: str, **kwargs: Any) -> HTTPResponse:
        kwargs.setdefault("raise_error", False)
        kwargs.setdefault("follow_redirects", False)
        response: HTTPResponse = self.run(self._fetch(*parts, **kwargs))
        return response

    def cli(self, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        response = self.fetch("coder/api/cli", method=method,
                              body=json.dumps(body or {}) if method == "POST" else None)
        return response.code, json.loads(response.body or b"{}")

    def wait_until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        """Let the server's loop run (its timer, its workers) until ``condition`` holds."""
        async def poll() -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                assert time.monotonic() < deadline, "timed out"
                await asyncio.sleep(0.05)
        self.run(poll())


class Terminal:
    """A JupyterLab terminal: ``POST api/terminals`` and terminado's websocket protocol."""

    def __init__(self, server: Server) -> None:
        self.server = server
        created = server.fetch("api", "terminals", method="POST", body="{}")
        assert created.code == 200, created.body
        self.name = json.loads(created.body)["name"]
        self.ws = server.run(server._ws_fetch("terminals", "websocket", self.name))

    def run(self, command: str, timeout: float = 60.0) -> tuple[int, str]:
        """Type ``command`` and return (exit status, output)."""
        marker = uuid.uuid4().hex[:12]
        self.ws.write_message(json.dumps(["stdin", f"{command}; echo {marker}-$?\r"]))
        done = re.compile(rf"{marker}-(\d+)")

        async def read() -> tuple[int, str]:
            output = ""
            deadline = time.monotonic() + timeout
            while True:
                message = await asyncio.wait_for(self.ws.read_message(), deadline - time.monotonic())
                assert message is not None, "terminal closed"
                kind, *rest = json.loads(message)
                if kind == "stdout":
                    output += rest[0]
                    found = done.search(output)
                    if found:
                        return int(found[1]), output

        return self.server.run(read())

    def close(self) -> None:
        self.ws.close()
        self.server.fetch("api", "terminals", self.name, method="DELETE")


@pytest.fixture
def server(jp_fetch: Any, jp_ws_fetch: Any, jp_asyncio_loop: Any) -> Server:
    asyncio.set_event_loop(jp_asyncio_loop)
    return Server(jp_fetch, jp_ws_fetch, jp_asyncio_loop)


@pytest.fixture
def terminal(server: Server) -> Iterator[Terminal]:
    term = Terminal(server)
    yield term
    term.close()


def stored_token(fake: FakeCoder) -> str:
    tokens = store_for(CoderConfig(), fake.url).load_tokens()
    assert tokens is not None
    return tokens.access_token


def me_status(fake: FakeCoder, token: str) -> int:
    return httpx.get(f"{fake.url}/api/v2/users/me", headers={"Coder-Session-Token": token}).status_code


def test_coder_in_a_terminal_uses_the_login_after_the_explicit_step_through_refreshes_until_logout(
    coder_fake: FakeCoder, cli_home: CliHome, server: Server, terminal: Terminal
) -> None:
    fake = coder_fake
    login_by_consent(fake)
    status, _ = terminal.run("coder whoami")
    assert status != 0  # not shared yet: the CLI has no login at all

    # When the user takes the one step (the JupyterLab command calls this route)
    code, body = server.cli("POST")

    # Then
    assert code == 200, body
    assert body["terminals"]["mode"] == "files"
    assert body["terminals"]["directory"] == str(cli_home.default_dir)
    status, output = terminal.run("coder whoami")
    assert status == 0 and f"authenticated as {fake.username}" in output
    first = stored_token(fake)
    assert first not in json.dumps(body)

    # When a process refreshes (here: this one, like a kernel, after Coder expired the token)
    fake.advance(86400 + 60)
    from coder_jupyter import Coder

    with Coder(fake.url) as client:
        assert client.me().username == fake.username

    # Then the terminal keeps working with the new token
    assert me_status(fake, first) == 401
    status, output = terminal.run("coder whoami")
    assert status == 0 and f"authenticated as {fake.username}" in output

    # When no kernel runs and the token is about to expire: the server extension refreshes it
    store = store_for(CoderConfig(), fake.url)
    second = store.load_tokens()
    assert second is not None and second.access_token != first
    store.save_tokens(dataclasses.replace(second, expires_at=time.time() + 30))
    session = cli_home.default_dir / "session"
    server.wait_until(lambda: session.read_text() not in (second.access_token, ""))

    # Then the terminal's copy followed
    assert session.read_text() == stored_token(fake)
    status, output = terminal.run("coder whoami")
    assert status == 0 and f"authenticated as {fake.username}" in output

    # When logged out (the status bar's command)
    assert server.fetch("coder/api/logout", method="POST", body="{}").code == 200

    # Then the terminal's CLI no longer has our login, and our files are gone
    status, output = terminal.run("coder whoami")
    assert status != 0 and fake.username not in output
    assert not (cli_home.default_dir / "session").exists()
    assert server.cli()[1]["terminals"] is None


def test_a_users_own_coder_login_is_not_clobbered_without_force(
    coder_fake: FakeCoder, cli_home: CliHome, server: Server, terminal: Terminal
) -> None:
    fake = coder_fake
    own = fake.create_token(fake.username, name="terminal")
    cli_home.user_login(fake.url, own)  # `coder login` in a terminal
    login_by_consent(fake)

    # When
    code, body = server.cli("POST")

    # Then refused, nothing changed, and the message says how to go on
    assert code == 200 and "--force" in body["conflict"] and body["terminals"] is None
    assert (cli_home.default_dir / "session").read_text() == own
    assert terminal.run("coder whoami")[0] == 0

    # When the user confirms (the JupyterLab command's dialog), then turns it off again
    code, body = server.cli("POST", {"force": True})
    assert code == 200 and "conflict" not in body and body["terminals"]["mode"] == "files"
    assert (cli_home.default_dir / "session").read_text() == stored_token(fake)
    code, body = server.cli("DELETE")

    # Then our copy is removed (the user's own session was replaced at their request)
    assert code == 200 and body["terminals"] is None
    assert not (cli_home.default_dir / "session").exists()


def test_sharing_needs_a_login(server: Server) -> None:
    code, body = server.cli("POST")
    assert code == 409 and "Log in first" in body["message"]


def test_bad_bodies_are_refused(server: Server) -> None:
    for body in ("[]", '{"force": "yes"}', "not json"):
        assert server.fetch("coder/api/cli", method="POST", body=body).code == 400


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_the_cli_route_needs_a_jupyter_login_and_the_xsrf_token(
    coder_fake: FakeCoder, server: Server, jp_serverapp: Any, cli_home: CliHome, method: str
) -> None:
    login_by_consent(coder_fake)
    body = "{}" if method == "POST" else None

    # Without a Jupyter login (even with a matching anonymous XSRF pair)
    fetch = server.fetch
    xsrf = anonymous_xsrf(fetch)
    anonymous = fetch("coder/api/cli", method=method, body=body,
                      headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf})
    assert anonymous.code == 403
    assert fetch("coder/api/cli", headers={"Authorization": ""}).code == 403

    # A browser session without the XSRF header
    cookie, xsrf = _cookie_login(fetch, jp_serverapp.identity_provider.token)
    browser = {"Authorization": "", "Cookie": cookie}
    assert fetch("coder/api/cli", method=method, body=body, headers=browser).code == 403
    assert not (cli_home.default_dir / "session").exists()

    # With it
    accepted = fetch("coder/api/cli", method=method, body=body, headers={**browser, "X-XSRFToken": xsrf})
    assert accepted.code == 200, accepted.body
