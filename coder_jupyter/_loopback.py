"""A one-shot loopback redirect listener (RFC 8252 §7.3) for kernels without a Jupyter server route.

The listener binds ``127.0.0.1`` on a free port (or a preferred one, so the redirect URI a
client registered earlier can be reused), serves exactly one callback on ``path``, and stops
after it or after a timeout. Only the callback carrying the expected ``state`` (see
:meth:`LoopbackListener.expect`) counts: any other request to ``path`` (a stray local client, a
web page sending the browser there, a replay) gets a 400 error page and the listener keeps
waiting for the real redirect. The browser's request is held open until the login finished,
so the page can say "Logged in as alice" or why it failed::

    with LoopbackListener() as listener:
        started = start_login(listener.redirect_uri)  # open in a browser
        listener.expect(started.state)
        callback = listener.wait(timeout=300)         # "http://127.0.0.1:PORT/callback?code=…"
        try:
            finish(callback)
            listener.respond(True, "Logged in as alice.")
        except CoderError as exc:
            listener.respond(False, str(exc))

Nothing here logs the request line (it carries the code and state), and the page never echoes
the query.
"""

from __future__ import annotations

import contextlib
import hmac
import html
import http.server
import threading
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import LoginTimeoutError

__all__ = ["LoopbackListener"]

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Coder login</title>
<style>body{{font-family:system-ui,sans-serif;margin:4em auto;max-width:36em;color:#222}}
h1{{font-size:1.3em}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p>You can close this window and return to your notebook.</p>
</body></html>"""


class _Server(http.server.HTTPServer):
    allow_reuse_address = False
    daemon_threads = True
    owner: LoopbackListener


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        # The server handles one connection at a time: an idle one (a browser's speculative
        # preconnect, a stray local client) must not hold the callback behind it forever.
        super().setup()
        self.connection.settimeout(self.server.owner._request_timeout)

    def do_GET(self) -> None:
        listener = self.server.owner
        parts = urlsplit(self.path)
        if parts.path != listener.path:
            self._send(404, "Not found", "This address only answers a Coder login callback.")
            return
        if not listener._matches(parts.query):
            self._send(400, "Login link not recognised",
                       "This login callback does not belong to the login in progress (its state is "
                       "missing or wrong), so it was ignored. If you started a login, finish it in "
                       "the browser tab Coder opened.")
            return
        if not listener._accept(self.path):
            self._send(404, "Not found", "This login callback was already received.")
            return
        ok, message = listener._await_outcome()
        self._send(200, "Logged in" if ok else "Login failed", message)

    def _send(self, status: int, title: str, message: str) -> None:
        page = _PAGE.format(title=html.escape(title), message=html.escape(message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the request line holds the authorization code."""


class LoopbackListener:
    """Serve one OAuth callback on ``http://127.0.0.1:<port><path>``.

    Args:
        path: the callback path.
        port: a preferred port; 0 or a busy port means a random free one.
        outcome_timeout: how long the browser's request waits for :meth:`respond`.
        request_timeout: how long a connection may take to send its request before it is dropped.
    """

    def __init__(self, *, path: str = "/callback", port: int = 0, outcome_timeout: float = 30.0,
                 request_timeout: float = 5.0) -> None:
        self.path = path
        self._outcome_timeout = outcome_timeout
        self._request_timeout = request_timeout
        self._server = self._bind(port)
        self._server.owner = self
        self._callback: str | None = None
        self._received = threading.Event()
        self._answered = threading.Event()
        self._outcome: tuple[bool, str] = (False, "The login was not completed.")
        self._lock = threading.Lock()
        self._state: str | None = None
        self._stateless_error = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="coder-loopback", daemon=True)
        self._thread.start()

    @staticmethod
    def _bind(port: int) -> _Server:
        if port:
            try:
                return _Server(("127.0.0.1", port), _Handler)
            except OSError:
                pass
        return _Server(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        """The exact redirect URI to register and send."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def expect(self, state: str, *, stateless_error: bool = False) -> None:
        """Accept only the callback whose ``state`` is ``state``; until this is called, none.

        Args:
            state: the pending login's state.
            stateless_error: also accept an ``error=`` callback without ``state`` (a deployment
                configured as G1, whose Cancel omits it: ``c.CoderConfig.oauth_cancel_without_state``).
        """
        self._state, self._stateless_error = state, stateless_error

    def _matches(self, query: str) -> bool:
        expected = self._state
        if expected is None:
            return False
        params = parse_qs(query, keep_blank_values=True)
        states = params.get("state", [])
        if not states:
            return self._stateless_error and bool(params.get("error"))
        return len(states) == 1 and hmac.compare_digest(states[0].encode(), expected.encode())

    def _accept(self, request_path: str) -> bool:
        with self._lock:
            if self._callback is not None:
                return False  # single use
            self._callback = f"http://127.0.0.1:{self.port}{request_path}"
        self._received.set()
        return True

    def _await_outcome(self) -> tuple[bool, str]:
        self._answered.wait(self._outcome_timeout)
        return self._outcome

    def wait(self, timeout: float) -> str:
        """Block until the callback arrives; return its full URL (it holds secrets: don't print it).

        Raises:
            LoginTimeoutError: nothing arrived within ``timeout`` seconds (the listener is closed).
        """
        if not self._received.wait(timeout):
            self.close()
            raise LoginTimeoutError(
                f"No login callback reached {self.redirect_uri} within {timeout:.0f} s. "
                "Run the login again and approve it in the browser."
            )
        assert self._callback is not None
        return self._callback

    def respond(self, ok: bool, message: str) -> None:
        """Tell the waiting browser page how the login ended (shown escaped)."""
        self._outcome = (ok, message)
        self._answered.set()

    def close(self) -> None:
        """Stop listening. Idempotent."""
        self._answered.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        with contextlib.suppress(OSError):
            self._server.server_close()

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
