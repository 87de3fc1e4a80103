"""The small HTML page the OAuth callback answers with, and the headers that protect it.

The page is rendered from constants plus a few dynamic strings (deployment URL, user name, the
server's ``error_description``); every dynamic string goes through :func:`html.escape`, and the
page never contains the authorization code, the state or any token.

The headers follow what a page reached by an OAuth redirect needs:

* ``Content-Security-Policy``: nothing may load or run except the one inline ``<style>`` and
  ``<script>`` carrying this response's nonce; no ``<base>``, no form posts, no framing.
* ``Referrer-Policy: no-referrer``: the callback URL carries the code in its query, and must not
  leak through a ``Referer`` header.
* ``Cache-Control: no-store``: the page (and the URL that produced it) stays out of caches.

The inline script tells the window that opened the popup (the notebook page) how the login
ended with ``postMessage``, restricted to this page's own origin, then closes the popup after a
success or a cancel (an error stays open so it can be read)::

    {"source": "coder-jupyter", "ok": true, "outcome": "logged_in"}
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from html import escape
from typing import Literal

__all__ = ["Outcome", "Page", "closes_itself", "csp_for", "page_headers", "render_page"]

#: Machine-readable result sent to the opener; a fixed vocabulary, never server-supplied text.
Outcome = Literal[
    "logged_in",
    "access_denied",
    "invalid_request",
    "invalid_state",
    "invalid_grant",
    "server_error",
    "not_authenticated",
]


@dataclass(frozen=True)
class Page:
    """What the callback tells the user. ``title`` and ``message`` are plain text (escaped on
    rendering); ``detail`` is optional plain text shown smaller (e.g. Coder's error text)."""

    ok: bool
    outcome: Outcome
    title: str
    message: str
    detail: str | None = None


def new_nonce() -> str:
    """A fresh CSP nonce (128 bits, URL-safe) for one response."""
    return secrets.token_urlsafe(16)


def csp_for(nonce: str) -> str:
    """The Content-Security-Policy of a callback page rendered with ``nonce``."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src 'nonce-{nonce}'",
            f"script-src 'nonce-{nonce}'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(nonce: str) -> dict[str, str]:
    """Every header a callback page carries (see the module docstring for why)."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": csp_for(nonce),
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


_STYLE = (
    "body{font-family:system-ui,-apple-system,sans-serif;margin:0;display:flex;justify-content:center;"
    "padding-top:12vh;background:#f6f7f9;color:#1f2328}"
    "main{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem;max-width:34rem}"
    "h1{font-size:1.25rem;margin:0 0 .75rem}.ok h1{color:#1a7f37}.err h1{color:#cf222e}"
    ".neutral h1{color:#1f2328}"
    "p{line-height:1.45;overflow-wrap:anywhere}.detail{color:#57606a;font-size:.9rem}"
)


def closes_itself(page: Page) -> bool:
    """A success or a cancel closes its popup; an error stays open so the user can read it."""
    return page.ok or page.outcome == "access_denied"


def _script(ok: bool, outcome: Outcome, close_after: bool) -> str:
    # json.dumps of a bool and a fixed Literal: nothing user-controlled reaches the script.
    message = json.dumps({"source": "coder-jupyter", "ok": ok, "outcome": outcome})
    notify = (
        "try{if(window.opener&&!window.opener.closed){"
        f"window.opener.postMessage({message},window.location.origin);}}}}catch(e){{}}"
    )
    close = "setTimeout(function(){window.close();},1200);" if close_after else ""
    return f"(function(){{{notify}{close}}})();"


def render_page(page: Page, *, nonce: str) -> str:
    """The HTML of ``page``; its inline style and script carry ``nonce``.

    A success or cancel page closes itself shortly after telling the opener (browsers allow it
    for the popup the notebook opened; otherwise its text says it can be closed); an error page
    stays open so the user can read it.
    """
    detail = f"<p class='detail' id='detail'>{escape(page.detail)}</p>" if page.detail else ""
    css_class = "ok" if page.ok else "neutral" if page.outcome == "access_denied" else "err"
    safe_nonce = escape(nonce)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='referrer' content='no-referrer'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(page.title)} — Coder</title>"
        f"<style nonce='{safe_nonce}'>{_STYLE}</style></head>"
        f"<body><main class='{css_class}' data-outcome='{escape(page.outcome)}'>"
        f"<h1 id='title'>{escape(page.title)}</h1>"
        f"<p id='message'>{escape(page.message)}</p>{detail}</main>"
        f"<script nonce='{safe_nonce}'>{_script(page.ok, page.outcome, closes_itself(page))}</script>"
        "</body></html>"
    )
