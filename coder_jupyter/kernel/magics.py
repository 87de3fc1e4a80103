"""The ``%coder`` line magic.

================================  ==================================================================
``%coder`` / ``%coder status``     deployment, status, user, login method, expiry (``--check`` asks
                                   Coder who the token belongs to). Never a secret.
``%coder login``                   shows the login widget; in a terminal IPython or a VS Code notebook
                                   logs in through your browser: a loopback listener (RFC 8252), or
                                   in an SSH session without a display, pasting the final address.
``%coder login --token``           prompts for an API token (not echoed) and saves it.
``%coder login --code``            prints the authorization address; paste the code Coder shows.
``%coder login --browser``         loopback login even in a notebook (kernel on your machine).
``%coder login --scopes A B``      any OAuth login above, asking for scopes ``A B`` (e.g.
                                   ``coder:all``; README "Permissions").
``%coder login --paste``           the browser is elsewhere: approve, then paste the address it
                                   shows after Allow (not echoed).
``%coder logout``                  revokes the OAuth session and forgets the credentials
                                   (``--delete-registration`` also deletes the OAuth client).
``%coder cli``                     whether the Coder CLI shares this login (cells, terminals).
``%coder cli terminals``           share it with ``coder`` in terminals too (``--force`` replaces
                                   a session made with ``coder login``); ``%coder cli off`` undoes.
``%coder use <url or name>``       switch ``coder`` to another deployment; names come from
                                   ``c.CoderConfig.deployments = {"prod": "https://…"}``.
``%coder traceback``               the full traceback of the last error (errors of ours show short:
                                   the message and your line; ``CODER_JUPYTER_FULL_TRACEBACKS=1``
                                   shows every one in full).
``%coder help``                    this table.
================================  ==================================================================

Errors are printed as one line saying what to do (no traceback); secrets are never printed:
tokens are read with :func:`getpass.getpass`, and addresses are shown without credentials.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class

from .._paths import magic_login_path
from ..errors import CoderError, LoginCancelledError
from . import _display
from .extension import is_terminal

if TYPE_CHECKING:
    from .extension import KernelSession

__all__ = ["CoderMagics", "register", "unregister"]

_USAGE = """Usage:
  %coder status [--check]           deployment, user, login method, expiry
  %coder login                      show the login widget (terminal: log in through the browser)
  %coder login --token              paste an API token (not echoed)
  %coder login --code               open an address, approve, paste the code shown
  %coder login --browser            log in through a browser on this machine (loopback)
  %coder login --scopes A B ...     ask for these OAuth scopes (with any of the above)
  %coder login --paste              browser elsewhere: paste the address shown after Allow
  %coder logout [--delete-registration]
  %coder use <url or name>          switch to another deployment
  %coder traceback                  the full traceback of the last error
  %coder cli [terminals [--force] | off]   share the login with the Coder CLI in terminals
"""


class _UsageError(Exception):
    pass


@magics_class
class CoderMagics(Magics):
    """``%coder``: see the module docstring."""

    def __init__(self, shell: Any, session: KernelSession) -> None:
        super().__init__(shell)
        self.session = session

    @line_magic("coder")  # type: ignore[arg-type]
    def coder(self, line: str) -> None:
        """Log in and out of Coder and show the status: ``%coder help`` lists the subcommands."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            print(f"%coder: {exc}\n{_USAGE}", file=sys.stderr)
            return
        command, args = (words[0], words[1:]) if words else ("status", [])
        handler = getattr(self, f"_cmd_{command.replace('-', '_')}", None)
        if handler is None:
            print(f"%coder: unknown subcommand {command!r}.\n{_USAGE}", file=sys.stderr)
            return
        try:
            handler(args)
        except _UsageError as exc:
            print(f"%coder {command}: {exc}\n{_USAGE}", file=sys.stderr)
        except CoderError as exc:
            print(f"%coder {command}: {exc}", file=sys.stderr)
        finally:
            widget = self.session.widget
            if widget is not None and command in ("login", "logout"):
                widget.refresh()  # a login or logout done here shows on the widget above
            if command in ("login", "logout"):
                self.session.cli.sync()  # `!coder` in the next cell sees it (the hook would too)

    # -- subcommands ------------------------------------------------------------------------------

    def _cmd_help(self, args: list[str]) -> None:
        print(_USAGE)

    def _cmd_traceback(self, args: list[str]) -> None:
        _flags(args, set())
        value = getattr(sys, "last_value", None)
        if value is None:
            print("No error has been shown in this session yet.")
            return
        tb = getattr(sys, "last_traceback", None) or value.__traceback__
        assert self.shell is not None  # a magic always runs in a shell
        formatter = self.shell.InteractiveTB
        print(formatter.stb2text(formatter.structured_traceback(type(value), value, tb)))

    def _cmd_status(self, args: list[str]) -> None:
        flags = _flags(args, {"--check"})
        checked = "--check" in flags
        status = self.session.status(check=checked)
        if status is None:
            print(_display.fallback_text(None))
            return
        if status.status == "logged_in" and status.username is None:
            status = self.session.status(check=True) or status  # env/CLI token: ask who it is
        print("\n".join(_display.status_lines(status, checked=checked) + self.session.cli.status_lines()))

    def _cmd_login(self, args: list[str]) -> None:
        args, wanted = _scopes_option(args)
        flags = _flags(args, {"--token", "--code", "--browser", "--paste"})
        if len(flags) > 1:
            raise _UsageError("choose one of --token, --code, --browser, --paste")
        if self.session.status() is None:
            print(_display.fallback_text(None))
            return
        auth = self.session.client.auth
        if wanted is not None:
            if "--token" in flags:
                raise _UsageError("--scopes applies to OAuth logins; an API token has its own scope")
            auth.requested_scopes = wanted  # also what the widget's "Log in" asks for now
        if "--token" in flags:
            status = auth.login_with_token(_read_secret("Coder API token (input hidden): "))
        elif "--code" in flags:
            status = auth.login_oob(prompt=_read_secret)
        elif "--browser" in flags:
            status = auth.login_loopback()
        elif "--paste" in flags:
            status = auth.login_paste(prompt=_read_secret)
        else:
            path = magic_login_path(terminal=is_terminal(self.shell), env=os.environ, platform=sys.platform)
            if path == "widget":
                self.session.show_widget()
                return
            status = auth.login_paste(prompt=_read_secret) if path == "paste" else auth.login_loopback()
        print(_display.status_line(status))

    def _cmd_logout(self, args: list[str]) -> None:
        flags = _flags(args, {"--delete-registration"})
        if self.session.status() is None:
            print(_display.fallback_text(None))
            return
        auth = self.session.client.auth
        report = auth.logout(delete_registration="--delete-registration" in flags)
        where = _display.safe_url(auth.deployment_url)
        print(f"Logged out of {where}.")
        print(f"  revoked on Coder:    {report.revoked}")
        if report.revoked_detail:
            print(f"                       ({report.revoked_detail})")
        print(f"  local credentials:   {report.local_credentials}")
        if report.registration != "skipped":
            print(f"  OAuth client:        {report.registration}")
        status = auth.status()
        if status.status == "logged_in":
            # An env/CLI token still applies; say so rather than pretend we are logged out.
            print(f"Still authenticated: {_display.status_line(status)} Unset CODER_SESSION_TOKEN to stop.")

    def _cmd_cli(self, args: list[str]) -> None:
        action, rest = (args[0], args[1:]) if args else ("status", [])
        cli = self.session.cli
        if action == "terminals":
            share = cli.share_terminals(force="--force" in _flags(rest, {"--force"}))
            print(f"Terminals share this login: {share.describe()}.")
            if share.mode != "private":
                print("`coder` in a JupyterLab terminal now uses it, until logout or %coder cli off.")
        elif action == "off" and not rest:
            stopped = cli.stop_terminals()
            print("Terminals no longer share this login." if stopped
                  else "Terminals were not sharing this login.")
        elif action == "status" and not rest:
            cli.sync()
            print("\n".join(cli.status_lines()) or _display.fallback_text(None))
        else:
            raise _UsageError(f"unknown cli action {' '.join(args)!r}")

    def _cmd_use(self, args: list[str]) -> None:
        if len(args) != 1:
            names = ", ".join(sorted(self.session.deployments())) or "none configured"
            raise _UsageError(f"give one deployment URL or name (configured names: {names})")
        url = self.session.resolve(args[0])
        self.session.connect(url)
        self.session.inject()
        self.session.greet()


def _scopes_option(args: list[str]) -> tuple[list[str], str | None]:
    """Split ``--scopes A B ...`` (names up to the next ``--flag``) off ``args``."""
    if "--scopes" not in args:
        return args, None
    at = args.index("--scopes")
    end = next((i for i in range(at + 1, len(args)) if args[i].startswith("--")), len(args))
    names = " ".join(args[at + 1:end]).strip()
    if not names:
        raise _UsageError('--scopes needs scope names, e.g. --scopes "coder:workspaces.operate user:read"')
    return args[:at] + args[end:], names


def _flags(args: list[str], allowed: set[str]) -> set[str]:
    unknown = [a for a in args if a not in allowed]
    if unknown:
        raise _UsageError(f"unexpected {' '.join(unknown)!r}")
    return set(args)


def _read_secret(prompt: str) -> str:
    """Read a secret without echo. In a kernel, ipykernel routes getpass through the front end."""
    try:
        value = getpass.getpass(prompt)
    except Exception as exc:  # e.g. StdinNotImplementedError: the front end cannot prompt
        if type(exc).__name__ == "StdinNotImplementedError":
            raise LoginCancelledError(
                "This front end cannot prompt for input. Set CODER_SESSION_TOKEN before starting the "
                "kernel, or click \"Log in\" on the widget."
            ) from None
        raise
    if not value.strip():
        raise LoginCancelledError("Nothing was entered; the login was cancelled.")
    return value.strip()


def register(shell: Any, session: KernelSession) -> CoderMagics:
    """Register ``%coder`` bound to ``session``; returns the instance for :func:`unregister`."""
    magics = CoderMagics(shell, session)
    shell.register_magics(magics)
    return magics


def unregister(shell: Any, magics: CoderMagics) -> None:
    """Remove ``%coder`` if it is still ours (IPython has no public unregister)."""
    manager = shell.magics_manager
    line = manager.magics.get("line", {})
    bound = line.get("coder")
    if getattr(bound, "__self__", None) is magics:
        del line["coder"]
    registry = getattr(manager, "registry", {})
    if registry.get(type(magics).__name__) is magics:
        del registry[type(magics).__name__]
