"""The one decision of which way a login comes back (coder_jupyter._paths), table by table."""

from __future__ import annotations

import pytest

from coder_jupyter._paths import (
    PATH_ORDER,
    PATH_WORDS,
    choose_path,
    console_path,
    magic_login_path,
    redirect_allowed,
    why_not_server,
)

HTTPS = "https://hub.example.com/user/alice/coder/oauth/callback"
LOCAL = "http://127.0.0.1:8888/user/alice/coder/oauth/callback"
LAN = "http://10.0.0.5:8888/coder/oauth/callback"

# (redirect_uri, server_route, loopback_reachable, skip) -> path
CHOICES = [
    # The server extension is loaded and Coder accepts the page's callback: the server route.
    (HTTPS, True, None, (), "server"),
    (LOCAL, True, None, (), "server"),
    ("http://localhost:8888/coder/oauth/callback", True, None, (), "server"),
    ("http://[::1]:8888/coder/oauth/callback", True, None, (), "server"),
    # No server extension (kernel-only install, VS Code, custom servers): probe the kernel's listener.
    (HTTPS, False, None, (), "probe"),
    (HTTPS, False, True, (), "loopback"),
    (HTTPS, False, False, (), "paste"),
    # Plain http on a LAN host: Coder refuses that redirect (§3), even with the extension loaded.
    (LAN, True, None, (), "probe"),
    (LAN, True, True, (), "loopback"),
    (LAN, True, False, (), "paste"),
    # The page sent nothing usable.
    (None, True, None, (), "probe"),
    # "Didn't work?" moves down the list.
    (HTTPS, True, None, ("server",), "probe"),
    (HTTPS, True, True, ("server",), "loopback"),
    (HTTPS, True, True, ("server", "loopback"), "paste"),
    (HTTPS, True, None, ("server", "loopback"), "paste"),
    (HTTPS, True, True, ("server", "loopback", "paste"), "token"),
    (HTTPS, False, False, ("paste",), "token"),
]


@pytest.mark.parametrize(("uri", "server_route", "reachable", "skip", "expected"), CHOICES)
def test_choose_path(uri: str | None, server_route: bool, reachable: bool | None, skip: tuple[str, ...],
                     expected: str) -> None:
    assert choose_path(redirect_uri=uri, server_route=server_route, loopback_reachable=reachable,
                       skip=skip) == expected


@pytest.mark.parametrize(("uri", "allowed"), [
    (HTTPS, True), (LOCAL, True), (LAN, False), ("http://jupyter.example.com/cb", False),
    ("http://127.0.0.1.evil.example/cb", False), ("ftp://127.0.0.1/cb", False), ("https:///cb", False),
])
def test_redirect_allowed_follows_coders_rule(uri: str, allowed: bool) -> None:
    assert redirect_allowed(uri) is allowed


def test_the_reason_names_the_plain_http_host_and_is_empty_when_the_server_route_works() -> None:
    assert "plain http on 10.0.0.5" in why_not_server(LAN, True)
    assert "no coder-jupyter extension" in why_not_server(HTTPS, False)
    assert why_not_server(HTTPS, True) == ""


def test_every_path_has_its_one_line() -> None:
    assert set(PATH_WORDS) == set(PATH_ORDER)


# (environment, platform) -> console path (terminal IPython, VS Code)
CONSOLES = [
    ({}, "linux", "loopback"),                                               # a local terminal
    ({"DISPLAY": ":0"}, "linux", "loopback"),
    ({"SSH_CONNECTION": "10.0.0.2 5 10.0.0.5 22"}, "linux", "paste"),       # ssh, no display
    ({"SSH_TTY": "/dev/pts/1"}, "linux", "paste"),
    ({"SSH_CONNECTION": "x", "DISPLAY": "localhost:10.0"}, "linux", "loopback"),  # ssh -X
    ({"SSH_CONNECTION": "x", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "loopback"),
    ({"SSH_CONNECTION": "x"}, "darwin", "loopback"),
    ({"SSH_CONNECTION": ""}, "linux", "loopback"),                           # empty means unset
]


@pytest.mark.parametrize(("env", "platform", "expected"), CONSOLES)
def test_console_path(env: dict[str, str], platform: str, expected: str) -> None:
    assert console_path(env, platform=platform) == expected


# (terminal, environment) -> what a bare %coder login does
MAGIC = [
    (False, {}, "widget"),                                         # JupyterLab, Notebook 7, JupyterHub
    (True, {}, "loopback"),                                        # ipython in a local terminal
    (True, {"SSH_CONNECTION": "x"}, "paste"),                      # ipython over ssh
    # VS Code cannot render this package's widget: the kernel logs in without it.
    (False, {"VSCODE_PID": "4242"}, "loopback"),                   # VS Code on the desktop
    (False, {"VSCODE_IPC_HOOK_CLI": "/tmp/vscode-ipc.sock", "SSH_CONNECTION": "x"}, "paste"),  # Remote-SSH
    (False, {"VSCODE_CWD": "/home/u", "DISPLAY": ":0"}, "loopback"),
]


@pytest.mark.parametrize(("terminal", "env", "expected"), MAGIC)
def test_magic_login_path(terminal: bool, env: dict[str, str], expected: str) -> None:
    assert magic_login_path(terminal=terminal, env=env, platform="linux") == expected
