"""``%load_ext coder_jupyter``: put a ``coder`` client in the notebook and show how to log in.

What loading does, in order:

1. reads the configuration (``CODER_URL`` and friends, or ``c.CoderConfig.*`` in an IPython
   profile) with the shell as traitlets parent;
2. creates ``coder = Coder()`` for the configured deployment — authenticated at once when
   credentials already exist (the store, ``CODER_SESSION_TOKEN``, the Coder CLI's session),
   otherwise usable as soon as a login finishes;
3. puts it in the user namespace as ``coder`` — unless the notebook already has its own
   ``coder``, which is left alone (a warning says so);
4. registers ``%coder`` (see :mod:`.magics`) and the hook that shares the login with the Coder
   CLI in cells (``CODER_CONFIG_DIR``, see :mod:`._cli`);
5. shows one line ("Logged in to … as … (method).") and the login widget, whose output also
   carries plain text/HTML instructions for front ends that cannot render widgets.

Nothing blocks waiting for the user: the cell returns at once. Loading twice is harmless (the
second load only shows the status again); ``%unload_ext coder_jupyter`` removes ``coder`` and
``%coder`` and closes the client and the widget.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from .._login import AuthStatus
from ..errors import CoderError, ConfigurationError, NotLoggedInError
from . import _display
from ._cli import KernelCli

__all__ = [
    "NAME",
    "KernelSession",
    "NoDeployment",
    "current_session",
    "is_terminal",
    "load_ipython_extension",
    "unload_ipython_extension",
]

log = logging.getLogger(__name__)

#: The user-namespace name of the client.
NAME = "coder"

_sessions: dict[int, KernelSession] = {}


class NoDeployment:
    """Stands in for ``coder`` while no deployment is chosen; every use says what to do.

    Message: ``No Coder deployment chosen — run %coder use https://coder.example.com (or set
    CODER_URL before starting the kernel).``
    """

    _message = (
        "No Coder deployment chosen — run %coder use https://coder.example.com "
        "(or set CODER_URL before starting the kernel)."
    )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotLoggedInError(self._message)

    def __repr__(self) -> str:
        return "<coder: no deployment chosen — run %coder use <url>>"

    def close(self) -> None:
        """Nothing to release."""


def is_terminal(shell: Any) -> bool:
    """True in a terminal IPython (no front end to render widgets or HTML)."""
    return getattr(shell, "kernel", None) is None


def _show(bundle: dict[str, Any]) -> None:
    """Display a raw MIME bundle (the front end picks the richest type it can render)."""
    from IPython.display import display

    display(bundle, raw=True)  # type: ignore[no-untyped-call]


class KernelSession:
    """What ``%load_ext coder_jupyter`` set up in one shell: the config, the client, the widget.

    Args:
        shell: the IPython shell.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.config = self._make_config()
        self.client: Any = NoDeployment()
        self.widget: Any = None
        self.injected = False
        self.magics: Any = None
        self.cli = KernelCli(self)

    # -- configuration and clients ----------------------------------------------------------------

    def _make_config(self) -> Any:
        from .._config import CoderConfig

        return CoderConfig(parent=self.shell)

    def deployments(self) -> dict[str, str]:
        """Named deployments (``c.CoderConfig.deployments = {"prod": "https://…"}``)."""
        named = getattr(self.config, "deployments", None) or {}
        return {str(k): str(v) for k, v in dict(named).items()}

    def resolve(self, url_or_name: str) -> str:
        """A deployment URL from a URL or a configured name.

        Raises:
            ConfigurationError: neither an ``http(s)://`` URL nor a configured name.
        """
        text = url_or_name.strip()
        named = self.deployments()
        if text in named:
            return named[text]
        if text.startswith(("https://", "http://")):
            return text
        if "." in text and " " not in text and "/" not in text.split(".", 1)[0]:
            return f"https://{text}"
        known = ", ".join(sorted(named)) or "none configured"
        raise ConfigurationError(
            f"{text!r} is neither a deployment URL nor a configured name ({known}). "
            "Use  %coder use https://coder.example.com  or set c.CoderConfig.deployments."
        )

    def connect(self, url: str | None = None) -> Any:
        """Make the client for ``url`` (``None``: the configured one) and make it current.

        With no deployment configured, ``coder`` becomes a :class:`NoDeployment` placeholder.
        """
        from ..client import Coder

        try:
            client: Any = Coder(url, config=self.config)
        except ConfigurationError:
            if url is not None:
                raise
            client = NoDeployment()
        self._replace_client(client)
        self.cli.sync()
        return client

    def _replace_client(self, client: Any) -> None:
        old, self.client = self.client, client
        self._close_widget()
        if self.injected and self.shell.user_ns.get(NAME) is old:
            self.shell.user_ns[NAME] = client
        if old is not client:
            _close_quietly(old)

    def inject(self) -> None:
        """Put the client in the user namespace as ``coder`` (never over a user's own ``coder``)."""
        ns = self.shell.user_ns
        existing = ns.get(NAME)
        if existing is not None and existing is not self.client and not _is_ours(existing):
            warnings.warn(
                f"`{NAME}` already names something else in this notebook; it was left alone. "
                f"Delete it (del {NAME}) and run %reload_ext coder_jupyter to get the Coder client, "
                "or use %coder status / login / logout, which work regardless.",
                stacklevel=2,
            )
            return
        ns[NAME] = self.client
        self.injected = True

    # -- status and login UI -------------------------------------------------------------------------

    def status(self, *, check: bool = False) -> AuthStatus | None:
        """The current client's status (``None`` without a deployment)."""
        if isinstance(self.client, NoDeployment):
            return None
        status: AuthStatus = self.client.auth.status(check=check)
        return status

    def greet(self) -> None:
        """Show the status line, and the login widget when not logged in (non-blocking)."""
        status = self.status()
        if status is None:
            print(_display.fallback_text(None))
            return
        if status.status == "logged_in" and status.username is None:
            # Credentials from env/CLI: ask Coder who they belong to (one request).
            status = self.status(check=True) or status
        if status.status == "logged_in":
            print(_display.status_line(status))
            self.show_widget(quiet=True)
            return
        self.show_widget()

    def show_widget(self, *, quiet: bool = False) -> None:
        """Display the login widget with a text/HTML fallback for front ends without widgets.

        In a terminal IPython only the text is printed (``quiet`` suppresses it when logged in).
        """
        if isinstance(self.client, NoDeployment):
            print(_display.fallback_text(None))
            return
        url = self.client.auth.deployment_url
        if is_terminal(self.shell):
            status = self.status()
            if not quiet and status is not None:
                print(_display.status_line(status, widget=False))
            return
        widget = self._widget()
        if widget is None:
            _show({"text/plain": _display.fallback_text(url), "text/html": _display.fallback_html(url)})
            return
        bundle: dict[str, Any] = {}
        repr_bundle = getattr(widget, "_repr_mimebundle_", None)
        if callable(repr_bundle):
            data = repr_bundle()
            if isinstance(data, tuple):
                data = data[0]
            bundle.update(data or {})
        # Front ends without the widget manager render the richest of these instead.
        if not quiet:
            bundle.setdefault("text/html", _display.fallback_html(url))
        bundle.setdefault("text/plain", "Run %coder status for details." if quiet
                          else _display.fallback_text(url))
        _show(bundle)

    def _widget(self) -> Any:
        if self.widget is None:
            try:
                from ..widget import LoginWidget
            except ImportError as exc:  # ipywidgets missing, or the widget module broken
                log.debug("login widget unavailable: %s", exc)
                return None
            self.widget = LoginWidget(self.client.auth)
        return self.widget

    def _close_widget(self) -> None:
        widget, self.widget = self.widget, None
        if widget is not None:
            _close_quietly(widget)

    # -- teardown -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Remove what loading added: ``coder`` (if still ours), ``%coder``, the widget, the client."""
        if self.injected and self.shell.user_ns.get(NAME) is self.client:
            del self.shell.user_ns[NAME]
        self.injected = False
        self.cli.unregister(self.shell)
        if self.magics is not None:
            from .magics import unregister

            unregister(self.shell, self.magics)
            self.magics = None
        self._close_widget()
        client, self.client = self.client, NoDeployment()
        auth = getattr(client, "auth", None)
        if auth is not None and not isinstance(client, NoDeployment):
            try:
                auth.cancel_login()
            except CoderError as exc:
                log.debug("cancel on unload failed: %s", exc)
        _close_quietly(client)


def _is_ours(obj: Any) -> bool:
    if isinstance(obj, NoDeployment):
        return True
    try:
        from ..client import Coder
    except ImportError:
        return False
    return isinstance(obj, Coder)


def _close_quietly(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:  # teardown must not raise into the notebook
            log.debug("close failed: %s", type(exc).__name__)


def current_session(shell: Any) -> KernelSession | None:
    """The session ``%load_ext coder_jupyter`` created in ``shell``, if loaded."""
    return _sessions.get(id(shell))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext coder_jupyter`` — see the module docstring."""
    session = _sessions.get(id(ipython))
    if session is not None:
        session.inject()
        session.greet()
        return
    session = KernelSession(ipython)
    _sessions[id(ipython)] = session
    try:
        session.connect()
        from .magics import register

        session.magics = register(ipython, session)
        session.cli.register(ipython)
        session.inject()
    except BaseException:
        _sessions.pop(id(ipython), None)
        session.close()
        raise
    session.greet()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext coder_jupyter`` — remove ``coder`` and ``%coder``, stop background work."""
    session = _sessions.pop(id(ipython), None)
    if session is not None:
        session.close()
