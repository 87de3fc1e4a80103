"""Which way a browser login gets back to the kernel: the one decision, as pure functions.

A login ends when Coder redirects the browser to the client's redirect URI. Where that URI can
point depends on the front end, so the widget and ``%coder login`` pick a *path*, best first:

``server``
    the Jupyter server's callback route (``{base_url}coder/oauth/callback``). Needs the server
    extension loaded (the page probes ``coder/api/status``) and a redirect URI Coder accepts:
    ``https``, or ``http`` only on a loopback host (CODER_BEHAVIOR §3) — a plain-http page on a
    LAN address (``http://10.0.0.5:8888``) cannot use it.
``loopback``
    a listener in the kernel on ``http://127.0.0.1:<port>/callback`` (RFC 8252; Coder ignores
    the port of loopback redirects, §5 G4), when the browser can reach it: the page fetched the
    listener's probe, so browser and kernel share a machine.
``paste``
    the same loopback redirect, but the browser cannot reach the kernel (a remote kernel, a hub
    on another host, SSH): after Allow the browser shows an unreachable ``http://127.0.0.1…``
    address, which the user pastes into the widget (or at a hidden prompt in a terminal).
``token``
    an API token (``coder tokens create``), when nothing else worked.

Nothing here does I/O: the callers gather the facts (probes, the environment) and act.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final, Literal
from urllib.parse import urlsplit

__all__ = [
    "LOOPBACK_HOSTS",
    "PATH_ORDER",
    "PATH_WORDS",
    "LoginPath",
    "choose_path",
    "console_path",
    "is_loopback_host",
    "magic_login_path",
    "redirect_allowed",
    "why_not_server",
]

LoginPath = Literal["server", "loopback", "paste", "token"]

#: The order the paths are tried in; "Didn't work?" moves to the next one.
PATH_ORDER: Final[tuple[LoginPath, ...]] = ("server", "loopback", "paste", "token")

#: Loopback hosts Coder accepts in an ``http`` redirect URI (CODER_BEHAVIOR §3).
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})

#: The one line the widget shows about the path it is taking.
PATH_WORDS: Final[Mapping[LoginPath, str]] = {
    "server": "Signing in through this Jupyter server.",
    "loopback": "Signing in through a local listener in your kernel.",
    "paste": "Signing in by pasting the final address: your browser cannot reach the kernel.",
    "token": "Signing in with an API token: paste one below.",
}

#: Environment variables that say the process runs in an SSH session.
_SSH_VARIABLES: Final = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")
#: Environment variables that VS Code sets in the processes it starts (kernels included).
_VSCODE_VARIABLES: Final = ("VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI")


def is_loopback_host(host: str | None) -> bool:
    """``127.0.0.1``, ``localhost`` or ``::1`` (brackets allowed), case-insensitive."""
    return bool(host) and host.strip("[]").lower() in LOOPBACK_HOSTS  # type: ignore[union-attr]


def redirect_allowed(redirect_uri: str) -> bool:
    """Would Coder register ``redirect_uri``? ``https`` anywhere; ``http`` only on a loopback host."""
    parts = urlsplit(redirect_uri)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


def why_not_server(redirect_uri: str | None, server_route: bool) -> str:
    """One line saying why the Jupyter server's route is not used (empty when it is usable)."""
    if not server_route:
        return "The Jupyter server has no coder-jupyter extension, so the login returns to your kernel."
    if redirect_uri is None:
        return "The notebook page sent no usable callback address."
    if not redirect_allowed(redirect_uri):
        host = urlsplit(redirect_uri).hostname or "this host"
        return (f"This Jupyter is plain http on {host}, which Coder refuses as a login callback "
                "(only https or 127.0.0.1), so the login returns to your kernel.")
    return ""


def choose_path(
    *,
    redirect_uri: str | None,
    server_route: bool,
    loopback_reachable: bool | None,
    skip: Collection[str] = (),
) -> LoginPath | Literal["probe"]:
    """The path a widget login takes, from what the page found out.

    Args:
        redirect_uri: the Jupyter server's callback URI for this page (after the admin's
            ``CODER_OAUTH_REDIRECT_URI`` override), or ``None`` when the page sent none usable.
        server_route: the page's ``GET {base_url}coder/api/status`` answered (the server
            extension is loaded).
        loopback_reachable: the page fetched the kernel's listener probe; ``None``: not asked yet.
        skip: paths the user said did not work ("Didn't work?").

    Returns:
        a path, or ``"probe"``: start the kernel's listener and ask the page whether it reaches it,
        then call again with ``loopback_reachable``.
    """
    if ("server" not in skip and server_route and redirect_uri is not None
            and redirect_allowed(redirect_uri)):
        return "server"
    if "loopback" not in skip:
        if loopback_reachable is None:
            return "probe"
        if loopback_reachable:
            return "loopback"
    if "paste" not in skip:
        return "paste"
    return "token"


def console_path(env: Mapping[str, str], *, platform: str) -> Literal["loopback", "paste"]:
    """The path of a login without a widget (terminal IPython, VS Code): ``loopback`` when a
    browser may run on this machine, ``paste`` in an SSH session without a display, where the
    browser is on another machine and cannot reach ``127.0.0.1`` here.

    Args:
        env: the process environment.
        platform: :data:`sys.platform` (macOS and Windows always have a display).
    """
    remote = any(env.get(name) for name in _SSH_VARIABLES)
    display = platform in ("darwin", "win32") or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return "paste" if remote and not display else "loopback"


def magic_login_path(*, terminal: bool, env: Mapping[str, str],
                     platform: str) -> Literal["widget", "loopback", "paste"]:
    """What a bare ``%coder login`` does: show the widget in Jupyter front ends; in a terminal
    IPython or a VS Code notebook (which cannot render this package's widget) log in without
    one, by :func:`console_path`."""
    if terminal or any(env.get(name) for name in _VSCODE_VARIABLES):
        return console_path(env, platform=platform)
    return "widget"
