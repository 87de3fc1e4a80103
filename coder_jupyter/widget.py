"""The login widget: ``LoginWidget(coder.auth)`` shows and drives the login of one Coder deployment.

The kernel owns the state; the front end (the ``coder-jupyter`` JupyterLab extension) renders it
and turns clicks into custom messages::

    front end → kernel   {"event": "login", "redirect_uri": "https://…/user/alice/coder/oauth/callback",
                          "server_route": true, "skip": []}
                                               server_route: the page's GET coder/api/status answered;
                                               skip: paths the user said did not work
                         {"event": "probed", "ok": true}   the page reached the kernel's listener
                         {"event": "paste", "url": "…"}    the address after Allow: a message only
                         {"event": "paste_instead"}        the listener is unreachable after all
                         {"event": "cancel"}   {"event": "logout"}
                         {"event": "token", "token": "…"}     a message only: never widget state
                         {"event": "check", "ok": true, "outcome": "logged_in"}
                                               the callback page told the notebook page it is done
    kernel → front end   {"event": "open", "url": authorization_url}   navigate the login popup
                         {"event": "probe", "url": "http://127.0.0.1:PORT/probe", "expect": word}
                                               fetch it: does the browser reach the kernel?
                         {"event": "close_popup"}

A click on **Log in** opens a blank popup at once (so popup blockers allow it) and sends
``login``; a worker thread discovers the deployment, registers the client, starts the login
(:meth:`~coder_jupyter._login.AuthManager.begin_login`), sends ``open`` and waits for the store to
show the tokens the Jupyter server wrote when Coder redirected the popup back. The cell is never
blocked. Which way the browser comes back (the Jupyter server's route, a listener in the kernel,
or pasting the final address) is chosen by :func:`coder_jupyter._paths.choose_path` from what the
page found out; the ``login_path`` and ``path_note`` traits say which. Synced traits hold public
facts only (deployment, state, user name, method, expiry, step, error text); a notebook saved
after a full login contains no secret.

Where the front end cannot render the widget, its output still carries ``text/plain`` and
``text/html`` with instructions (``%coder login --code`` / ``--token``,
``coder.auth.login_with_token(getpass())``).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from html import escape
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import ipywidgets
from traitlets import Bool, CaselessStrEnum, Float, Unicode

from ._engine import usable_redirect_uri
from ._login import AuthManager, AuthStatus, LoginStarted
from ._paths import PATH_ORDER, PATH_WORDS, LoginPath, choose_path, why_not_server
from ._public import fallback_html, fallback_text, printable, safe_url
from .errors import (
    AccessDeniedError,
    CoderError,
    LoginCancelledError,
    LoginStateError,
    LoginTimeoutError,
    RegistrationUnavailableError,
)

__all__ = ["MODULE_NAME", "MODULE_VERSION", "LoginWidget"]

log = logging.getLogger(__name__)


def _module_version() -> str:
    """The npm package's version: the built extension's package.json, else the source tree's,
    else the Python package version hatch generated from it (the same single source)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "labextension" / "package.json", here.parent / "labextension" / "package.json"):
        try:
            version = json.loads(candidate.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(version, str):
            return version
    try:  # written by the build (hatch's version hook); absent in a never-built source tree
        return str(importlib.import_module(f"{__package__}._version").__version__)
    except (ImportError, AttributeError):
        return "0.0.0"


#: The front-end module (npm package and labextension) that holds ``LoginModel`` / ``LoginView``.
MODULE_NAME: Final = "coder-jupyter"
#: Its version; the front end registers the same one, read from the same package.json.
MODULE_VERSION: Final = _module_version()

STEP_DISCOVER: Final = "Discovering the deployment…"
STEP_REGISTER: Final = "Registering Jupyter with Coder…"
STEP_APPROVE: Final = "Waiting for you to approve in the browser…"
STEP_FINISH: Final = "Finishing the login…"
STEP_TOKEN: Final = "Checking the token…"  # noqa: S105 (a progress message)
STEP_LOGOUT: Final = "Logging out…"
STEP_PROBE: Final = "Checking whether your browser reaches the kernel…"
STEP_PASTE: Final = "Waiting for you to approve, then paste the address…"

#: The neutral notes of a login the user ended (status ``cancelled``): not errors.
CANCELLED_HERE: Final = "You cancelled the login; nothing was saved."
CANCELLED_ON_CODER: Final = "You cancelled on Coder's consent page; nothing was saved."

#: What the callback page's ``outcome`` means, for a login that failed in the Jupyter server.
#: Only these fixed keys are accepted from the browser; nothing it sends is displayed.
OUTCOME_MESSAGES: Final[Mapping[str, str]] = {
    "access_denied": "You cancelled on Coder's consent page; nothing was saved.",
    "invalid_state": "That login had expired or was already used. Click Log in to start a new one.",
    "invalid_grant": "Coder refused the authorization code (it may have expired). Click Log in to try again.",
    "invalid_request": "The browser came back without a usable answer from Coder. Click Log in to try again.",
    "server_error": "The Jupyter server could not finish the login (see its log). Click Log in to try again.",
    "not_authenticated": "The login popup was not logged in to this Jupyter server. Log in to Jupyter in "
    "that browser, then click Log in again.",
}

def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    whole = round(seconds)
    return f"{whole} second{'s' if whole != 1 else ''}"


def _values(status: AuthStatus) -> dict[str, Any]:
    """The synced traits that show ``status`` (all public by construction)."""
    waiting = status.status == "waiting"
    return {
        "deployment_url": safe_url(status.deployment_url),
        "status": status.status,
        "username": status.username or "",
        "method": status.method or "",
        "expires_at": status.expires_at,
        # An error, or why a session ended (Coder refused the refresh token): both secret-free.
        "error": (status.error or "") if status.status in ("error", "logged_out") else "",
        "oauth_available": status.oauth_available,
        "scope_summary": status.scope_summary if status.status == "logged_in" else "",
        "step": STEP_APPROVE if waiting else "",
        "timeout_at": None,
    }


def _message(exc: BaseException) -> str:
    """What the widget shows for an error: a CoderError's message (secret-free by design)."""
    if isinstance(exc, CoderError):
        return printable(exc, 500)
    return f"Unexpected error ({type(exc).__name__}); see the kernel log. Click Log in to try again."


class LoginWidget(ipywidgets.DOMWidget):  # type: ignore[misc]
    """Log in to a Coder deployment from a notebook: state, progress, Cancel, Log out, API token.

    Usually shown by ``%load_ext coder_jupyter``; by hand::

        from coder_jupyter.widget import LoginWidget
        LoginWidget(coder.auth)            # renders coder.auth.status(), then follows the clicks

    Args:
        auth: the deployment's :class:`~coder_jupyter._login.AuthManager` (``coder.auth``).
        timeout: seconds a browser login may take before it is abandoned (default 5 minutes).

    Synced traits (all public; never a token, code, verifier or secret): ``deployment_url``,
    ``status`` (``logged_out``, ``waiting``, ``logged_in``, ``expired``, ``error``, ``cancelled``:
    the user ended the login, shown neutrally with ``error`` as the note), ``username``,
    ``method`` (``oauth``, ``token``, ``env``, ``cli`` or empty), ``expires_at``, ``error``,
    ``step``, ``timeout_at`` (Unix seconds), ``oauth_available`` and ``scope_summary`` (what the
    OAuth login's scope allows, e.g. "workspaces: read, start/stop; templates: read").
    """

    _model_name = Unicode("LoginModel").tag(sync=True)
    _view_name = Unicode("LoginView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    deployment_url = Unicode("", help="The deployment, without query or credentials.").tag(sync=True)
    status = CaselessStrEnum(
        ["logged_out", "waiting", "logged_in", "expired", "error", "cancelled"], default_value="logged_out",
        help="The login state shown by the badge.",
    ).tag(sync=True)
    username = Unicode("", help="Who is logged in (empty when nobody is).").tag(sync=True)
    method = Unicode("", help="How: oauth, token, env, cli, or empty.").tag(sync=True)
    expires_at = Float(None, allow_none=True, help="When the credentials expire (Unix s).").tag(sync=True)
    error = Unicode("", help="Why the last attempt failed (plain text, secret-free).").tag(sync=True)
    step = Unicode("", help="What the login is doing now, while status is 'waiting'.").tag(sync=True)
    timeout_at = Float(None, allow_none=True, help="When a waiting login gives up (Unix s).").tag(sync=True)
    oauth_available = Bool(None, allow_none=True,
                           help="Whether the deployment offers OAuth2 (None: not known yet).").tag(sync=True)
    scope_summary = Unicode("", help="What the OAuth login may do, in words (not secret).").tag(sync=True)
    login_path = Unicode("", help="The way the login returns: server, loopback, paste, token or empty.").tag(
        sync=True)
    path_note = Unicode("", help="One line saying which way the login is taking, and why.").tag(sync=True)

    def __init__(self, auth: AuthManager, *, timeout: float = 300.0, **kwargs: Any) -> None:
        # The comm opens with the real state, so the first render is already right.
        super().__init__(**{**_values(auth.status()), **kwargs})
        self._auth = auth
        self._timeout = float(timeout)
        self._lock = threading.Lock()
        self._begin_lock = threading.Lock()  # one begin_login at a time, so a stale one can be undone
        self._attempt = 0
        self._workers: list[threading.Thread] = []
        # What the page found out for the current login: (server redirect URI, server route
        # answered, skipped paths, page origin); and the attempt whose listener probe is out.
        self._facts: tuple[str | None, bool, frozenset[str], str] = (None, True, frozenset(), "")
        self._probe_attempt: int | None = None
        self.on_msg(self._on_front_end_message)
        self.refresh()
        if self.oauth_available is None and self.status != "logged_in":
            self._spawn("discover", self._run_discover)

    def __repr__(self) -> str:
        who = f" as {self.username}" if self.username else ""
        return f"LoginWidget({safe_url(self.deployment_url)!r}, status={self.status!r}{who})"

    # -- public -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show ``auth.status()`` (no network I/O). Called after every action and on ``check``."""
        self._show(self._auth.status())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until background work (a login, logout or token check) has finished.

        Returns:
            ``True`` if nothing is running any more, ``False`` if ``timeout`` ran out first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._workers = [w for w in self._workers if w.is_alive()]
                workers = list(self._workers)
            if not workers:
                return True
            for worker in workers:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                worker.join(remaining)
                if deadline is not None and time.monotonic() >= deadline and worker.is_alive():
                    return False

    # -- display ------------------------------------------------------------------------------------

    def _show(self, status: AuthStatus) -> None:
        values = _values(status)
        if status.status == "waiting":
            del values["timeout_at"]  # keep the deadline this widget set
        with self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)

    def _show_error(self, message: str) -> None:
        with self.hold_sync():
            self.status = "error"
            self.error = message
            self.step = ""
            self.timeout_at = None
            self.oauth_available = self._auth.status().oauth_available

    def _show_cancelled(self, note: str) -> None:
        """The user ended the login (Cancel here or on Coder's page): neutral, not an error."""
        with self.hold_sync():
            self.status = "cancelled"
            self.error = note
            self.step = ""
            self.timeout_at = None
            self.oauth_available = self._auth.status().oauth_available

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = self._fallback_text()
        data["text/html"] = self._fallback_html()
        return data

    def _fallback_text(self) -> str:
        where = self.deployment_url or "the Coder deployment"
        state = {
            "logged_in": f"logged in as {self.username or 'an unnamed user'}",
            "waiting": "waiting for the browser",
            "expired": "the session has expired",
            "error": f"the last login failed: {self.error}",
            "cancelled": "login cancelled",
        }.get(self.status, "not logged in")
        return (
            f"Coder login widget for {where} ({state}).\n"
            "This front end cannot show the widget (no coder-jupyter JupyterLab extension). Instead:\n"
            + fallback_text(self.deployment_url or None)
        )

    def _fallback_html(self) -> str:
        where = escape(self.deployment_url) if self.deployment_url else "the Coder deployment"
        return (
            f"<p><b>Coder login for {where}</b>: this front end cannot show the login widget "
            "(the <code>coder-jupyter</code> JupyterLab extension is not installed here). Instead:</p>"
            + fallback_html(self.deployment_url or None)
        )

    # -- messages from the front end ------------------------------------------------------------

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "login":
            if "server_route" in content:
                self._on_login_choose(content)
            else:  # a front end that predates the path choice: the Jupyter server's route
                self._on_login(content.get("redirect_uri"))
        elif event == "probed":
            self._on_probed(content.get("ok") is True)
        elif event == "paste":
            url = content.get("url")
            self._on_paste(url if isinstance(url, str) else "")
        elif event == "paste_instead":
            self._on_paste_instead()
        elif event == "cancel":
            self._on_cancel()
        elif event == "logout":
            self._on_logout()
        elif event == "token":
            token = content.get("token")
            self._on_token(token if isinstance(token, str) else "")
        elif event == "check":
            self._on_check(content.get("ok"), content.get("outcome"))
        else:
            log.debug("ignored a front-end message with event %r", printable(event, 40))

    def _next_attempt(self) -> int:
        with self._lock:
            self._attempt += 1
            return self._attempt

    def _current(self, attempt: int) -> bool:
        with self._lock:
            return attempt == self._attempt

    def _fail(self, attempt: int, exc: Exception, what: str) -> None:
        """A worker failed: log what is unexpected, show why if its attempt is still current."""
        if not isinstance(exc, CoderError):
            log.exception("the %s failed unexpectedly", what)
        if self._current(attempt):
            self._show_error(_message(exc))

    def _waiting(self, step: str, timeout_at: float | None) -> None:
        with self.hold_sync():
            self.status = "waiting"
            self.error = ""
            self.step = step
            self.timeout_at = timeout_at

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        worker = threading.Thread(target=target, args=args, name=f"coder-jupyter-{name}", daemon=True)
        with self._lock:
            self._workers.append(worker)
        worker.start()

    def _on_login(self, redirect_uri: object) -> None:
        if not usable_redirect_uri(redirect_uri):
            self._next_attempt()
            self._show_error("The notebook page sent no usable callback address; reload the page and "
                             "click \"Log in\" again.")
            self.send({"event": "close_popup"})
            return
        attempt = self._next_attempt()
        self._waiting(STEP_DISCOVER, time.time() + self._timeout)
        self._spawn("login", self._run_login, attempt, redirect_uri)

    def _run_login(self, attempt: int, redirect_uri: str,
                   begin: Callable[[], LoginStarted] | None = None) -> None:
        try:
            self._run_login_steps(attempt, redirect_uri, begin)
        finally:
            if begin is not None and self._current(attempt):
                self._auth.close_listener()

    def _run_login_steps(self, attempt: int, redirect_uri: str,
                         begin: Callable[[], LoginStarted] | None) -> None:
        try:
            self._auth.metadata()
            if not self._current(attempt):
                return
            self.step = STEP_REGISTER
            with self._begin_lock:
                if not self._current(attempt):
                    return
                if begin is None:
                    redirect_uri = self._auth.engine.server_redirect_uri(redirect_uri)
                    started = self._auth.begin_login(redirect_uri, timeout=self._timeout)
                else:
                    started = begin()
                if not self._current(attempt):  # cancelled while registering
                    self._auth.cancel_login()
                    return
                with self.hold_sync():
                    self.step = STEP_PASTE if self.login_path == "paste" else STEP_APPROVE
                    self.timeout_at = time.time() + self._timeout
                self.send({"event": "open", "url": started.authorization_url})
            status = self._auth.wait_for_login(self._timeout)
        except LoginTimeoutError:
            if self._current(attempt):
                minutes = _duration(self._timeout)
                self._show_error(f"Login timed out after {minutes} — click Log in to try again.")
                self.send({"event": "close_popup"})
            return
        except AccessDeniedError:
            if self._current(attempt):  # Cancel on Coder's consent page, seen by the server
                self._show_cancelled(CANCELLED_ON_CODER)
                self.send({"event": "close_popup"})
            return
        except LoginCancelledError:
            if self._current(attempt):  # cancelled elsewhere (%coder logout, another login)
                self.refresh()
            return
        except Exception as exc:
            self._fail(attempt, exc, "login")
            if isinstance(exc, RegistrationUnavailableError) and self._current(attempt):
                self.oauth_available = False  # lead with the API-token field
                self.send({"event": "close_popup"})
            return
        if self._current(attempt):
            self._show(status)
            self.send({"event": "close_popup"})

    def _run_discover(self) -> None:
        """Learn early whether OAuth is offered, so the view can lead with the API-token path."""
        try:
            self._auth.metadata()
        except CoderError as exc:
            log.debug("discovery failed: %s", _message(exc))
        except Exception:
            log.exception("discovery failed unexpectedly")
        status = self._auth.status()
        if status.status == "error" and self.status != "waiting":
            self._show(status)  # DCR off and no OAuth2 app: the sentence, and the API-token field
        else:
            self.oauth_available = status.oauth_available

    def _on_cancel(self) -> None:
        self._next_attempt()
        self._auth.cancel_login()
        self._auth.close_listener()
        if self._auth.status().status == "logged_in":
            self.refresh()
        else:
            self._show_cancelled(CANCELLED_HERE)
        self.send({"event": "close_popup"})

    def _on_logout(self) -> None:
        attempt = self._next_attempt()
        self.step = STEP_LOGOUT
        self._spawn("logout", self._run_logout, attempt)

    def _run_logout(self, attempt: int) -> None:
        try:
            report = self._auth.logout()
        except Exception as exc:
            self._fail(attempt, exc, "logout")
            return
        if report.revoked.startswith("failed"):
            log.warning("logged out locally, but revoking on Coder %s", report.revoked)
        if self._current(attempt):
            self.refresh()

    def _on_token(self, token: str) -> None:
        attempt = self._next_attempt()
        self._auth.cancel_login()
        self._auth.close_listener()
        if not token.strip():
            self._show_error("The API token field was empty. Paste a token (create one with "
                             "`coder tokens create`) and try again.")
            return
        self._waiting(STEP_TOKEN, None)
        self._spawn("token", self._run_token, attempt, token)

    def _run_token(self, attempt: int, token: str) -> None:
        try:
            status = self._auth.login_with_token(token)
        except Exception as exc:
            self._fail(attempt, exc, "token login")
            return
        if self._current(attempt):
            self._show(status)

    def _on_check(self, ok: object, outcome: object) -> None:
        """The callback page said the login ended (in the Jupyter server, which wrote the store)."""
        status = self._auth.status()
        if self.status != "waiting":
            if self.status in ("error", "cancelled") and status.status != "logged_in":
                return  # the login worker already showed how it ended; keep saying so
            self._show(status)
            return
        if status.status == "logged_in" or ok is True:
            # The waiting worker sees the store change within a poll and shows the result.
            self.step = STEP_FINISH
            return
        if ok is False and isinstance(outcome, str) and outcome in OUTCOME_MESSAGES:
            self._next_attempt()
            self._auth.cancel_login()
            if outcome == "access_denied":
                self._show_cancelled(OUTCOME_MESSAGES[outcome])
                self.send({"event": "close_popup"})
            else:
                self._show_error(OUTCOME_MESSAGES[outcome])

    # -- choosing the way back (server route, listener in the kernel, paste) -------------------------

    def _on_login_choose(self, content: Mapping[str, Any]) -> None:
        """A login from a front end that probed the server route: choose the path, then take it."""
        redirect_uri = content.get("redirect_uri")
        usable = isinstance(redirect_uri, str) and usable_redirect_uri(redirect_uri)
        page_uri = redirect_uri if usable else None
        server_uri = self._auth.engine.server_redirect_uri(page_uri) if page_uri else None
        raw_skip = content.get("skip")
        skip = frozenset(p for p in (raw_skip if isinstance(raw_skip, list) else ()) if p in PATH_ORDER)
        server_route = content.get("server_route") is True
        origin = ""
        if page_uri:  # the listener's probe answers this origin only
            parts = urlsplit(page_uri)
            origin = f"{parts.scheme}://{parts.netloc}"
        self._facts = (server_uri, server_route, skip, origin)
        path = choose_path(redirect_uri=server_uri, server_route=server_route, loopback_reachable=None,
                           skip=skip)
        if path == "probe":
            attempt = self._next_attempt()
            self._auth.cancel_login()
            self._set_path("loopback")
            self._waiting(STEP_PROBE, time.time() + self._timeout)
            listener = self._auth.open_listener(probe_origin=origin or None)
            self._probe_attempt = attempt
            self.send({"event": "probe", "url": listener.probe_url, "expect": listener.probe_token})
            return
        self._take_path(path, redirect_uri)

    def _on_probed(self, reachable: bool) -> None:
        if self._probe_attempt is None or not self._current(self._probe_attempt):
            return  # an answer to an abandoned probe
        self._probe_attempt = None
        server_uri, server_route, skip, _origin = self._facts
        self._take_path(choose_path(redirect_uri=server_uri, server_route=server_route,
                                    loopback_reachable=reachable, skip=skip), None)

    def _take_path(self, path: str, redirect_uri: object) -> None:
        if path == "server":
            self._set_path("server")
            self._on_login(redirect_uri)
            return
        if path in ("loopback", "paste"):
            login_path: LoginPath = "loopback" if path == "loopback" else "paste"
            self._set_path(login_path)
            attempt = self._next_attempt()
            self._waiting(STEP_DISCOVER, time.time() + self._timeout)
            if login_path == "paste" or not self._auth.listening:
                self._auth.open_listener()
            self._spawn("login", self._run_login, attempt, "",
                        lambda: self._auth.begin_listener_login(timeout=self._timeout))
            return
        # Nothing else is left: the API token.
        self._next_attempt()
        self._auth.cancel_login()
        self._auth.close_listener()
        self._set_path("token")
        self.refresh()
        self.send({"event": "close_popup"})

    def _set_path(self, path: LoginPath) -> None:
        server_uri, server_route, skip, _origin = self._facts
        reason = "" if path == "server" or "server" in skip else why_not_server(server_uri, server_route)
        with self.hold_sync():
            self.login_path = path
            self.path_note = f"{PATH_WORDS[path]} {reason}".strip()

    def _on_paste_instead(self) -> None:
        """The popup could not reach the listener after all: the same login, finished by pasting."""
        if self._probe_attempt is not None:  # still probing: as if the page had not reached it
            self._on_probed(False)
            return
        if self.status == "waiting" and self.login_path == "loopback":
            self._set_path("paste")
            self.step = STEP_PASTE

    def _on_paste(self, pasted: str) -> None:
        """The address the browser showed after Allow: finish the pending login with it. It is
        never stored, shown or logged."""
        if self.status != "waiting" or self.login_path not in ("loopback", "paste"):
            return
        with self._lock:
            attempt = self._attempt
        self.error = ""
        self._spawn("paste", self._run_paste, attempt, pasted)

    def _run_paste(self, attempt: int, pasted: str) -> None:
        try:
            self._auth.finish_pasted(pasted)
        except LoginStateError as exc:
            if exc.error == "invalid_request" and self._current(attempt):
                self.error = _message(exc)  # not a callback: the login still waits for a good one
                return
            self._fail(attempt, exc, "pasted login")
        except Exception as exc:
            self._fail(attempt, exc, "pasted login")
        # On success the login worker's wait_for_login returns and shows the result.
