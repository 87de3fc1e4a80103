"""``%coder login`` in IPython in a terminal (a real pty, no widgets): the loopback path. The test
plays the browser over HTTP: the consent on the fake Coder, then the redirect to the listener."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from coder_jupyter.testing import FakeCoder, fake_coder

ROOT = Path(__file__).resolve().parents[2]
AUTHORIZE = re.compile(r"http://127\.0\.0\.1:\d+/oauth2/authorize\?\S+")

pytestmark = pytest.mark.timeout(120)


class Terminal:
    """IPython on a pty: type lines, read the screen until a pattern shows."""

    def __init__(self, env: dict[str, str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--simple-prompt",
             "--HistoryManager.enabled=False"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.screen = ""

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while (match := regex.search(self.screen)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                shown = self.screen[-3000:]
                raise AssertionError(f"{regex.pattern!r} not shown; the terminal shows:\n{shown}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace").replace("\r", "")
                except OSError:  # the process ended
                    continue
        return match

    def close(self) -> None:
        if self.proc.poll() is None:
            self.type("exit")
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def _env(fake: FakeCoder, browser: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith(("CODER_", "SSH_", "VSCODE_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY"))
           or k in ("CODER_JUPYTER_DIR", "CODER_CONFIG_DIR")}
    env.update(CODER_URL=fake.url, BROWSER=browser, TERM="dumb",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
    return env


@pytest.mark.parametrize("browser", ["none", "system"])
def test_coder_login_in_terminal_ipython_uses_the_loopback_listener(browser: str, tmp_path: Path) -> None:
    opened = tmp_path / "opened-url"
    if browser == "system":  # a "system browser" that only notes the address it was asked to open
        command = tmp_path / "browser"
        command.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
        command.chmod(0o755)
    else:
        command = Path("/bin/false")  # webbrowser finds no usable browser: the address is printed
    with fake_coder(workspaces=2, dcr=True) as fake:
        term = Terminal(_env(fake, str(command)))
        try:
            term.type("%load_ext coder_jupyter")
            term.expect(r"In \[2\]")
            # When the user runs %coder login
            term.type("%coder login")
            if browser == "system":
                deadline = time.monotonic() + 60
                while not (opened.exists() and opened.read_text()):
                    assert time.monotonic() < deadline, term.screen
                    time.sleep(0.05)
                url = opened.read_text()
                assert AUTHORIZE.fullmatch(url)
                assert "Open this address" not in term.screen
            else:
                url = term.expect(AUTHORIZE)[0]
            # And approves in the browser, which Coder sends to the kernel's listener
            location = fake.consent(url)
            assert re.match(r"http://127\.0\.0\.1:\d+/callback\?", location)
            page = httpx.get(location, timeout=30)
            # Then the browser page and the terminal say so, and the client works
            assert f"Logged in to Coder as {fake.username}" in page.text
            term.expect(rf"Logged in to \S+ as {fake.username}")
            term.type("print('COUNT', len(coder.workspaces('owner:me')))")
            term.expect(r"COUNT 2")
            assert "code=" not in term.screen
        finally:
            term.close()


def test_coder_login_over_ssh_without_a_display_asks_for_the_final_address_without_echo() -> None:
    with fake_coder(workspaces=2, dcr=True) as fake:
        env = _env(fake, "/bin/false")
        env["SSH_CONNECTION"] = "10.0.0.2 50000 10.0.0.5 22"  # the browser is on another machine
        term = Terminal(env)
        try:
            term.type("%load_ext coder_jupyter")
            term.expect(r"In \[2\]")
            # When the user runs %coder login in an SSH session
            term.type("%coder login")
            url = term.expect(AUTHORIZE)[0]
            term.expect(r"Address after Allow \(input hidden\): ")
            # And approves in their own browser, which cannot open the 127.0.0.1 address it is sent to
            location = fake.consent(url)
            assert re.match(r"http://127\.0\.0\.1:\d+/callback\?", location)
            before = len(term.screen)
            term.type(location)
            # Then the terminal says logged in, and never showed what was pasted
            term.expect(rf"Logged in to \S+ as {fake.username}")
            code = re.search(r"code=([^&]+)", location)[1]  # type: ignore[index]
            assert code not in term.screen[before:] and "code=" not in term.screen
        finally:
            term.close()
