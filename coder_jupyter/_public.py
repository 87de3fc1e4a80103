"""What may be shown to a person, decided once: cleaned server text, URLs without secrets, the
names of the login methods and the instructions for front ends that cannot render the widget.

The bottom layer (it imports nothing of ours): the OAuth core, the transport, the engine, the
widget, the magics and the server extension's pages all use these, so a rule about what is safe
to print changes in one place.
"""

from __future__ import annotations

from html import escape
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "LOGIN_METHODS",
    "METHOD_WORDS",
    "LoginMethod",
    "fallback_html",
    "fallback_text",
    "method_words",
    "printable",
    "safe_url",
]

#: The configurable credential sources, in their default order (``c.CoderConfig.login_methods``).
LOGIN_METHODS = ("env", "store", "cli", "oauth")

#: How a session was authenticated (``AuthStatus.method``).
LoginMethod = Literal["oauth", "token", "env", "cli"]

#: The words shown for each :data:`LoginMethod`. Mirrored in ``labextension/src/widget.ts``
#: (``METHODS``); tests/unit/test_public.py keeps the three equal.
METHOD_WORDS: dict[LoginMethod, str] = {
    "oauth": "OAuth",
    "token": "API token",
    "env": "CODER_SESSION_TOKEN",
    "cli": "Coder CLI session",
}


def method_words(method: str | None, empty: str = "") -> str:
    """The words for a login method (:data:`METHOD_WORDS`); an unknown one as is, none as ``empty``."""
    for known, words in METHOD_WORDS.items():
        if known == method:
            return words
    return method or empty


def printable(text: object, limit: int = 300) -> str:
    """``text`` reduced to one line of printable characters, cut at ``limit`` (safe to show)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text)).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def safe_url(url: object) -> str:
    """``url`` without user info, query or fragment: safe to print (codes and tokens live in
    queries, passwords in user info). Accepts a string or an ``httpx.URL``."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def fallback_text(deployment_url: str | None) -> str:
    """What to do where the login widget cannot be rendered (plain text)."""
    if deployment_url is None:
        return (
            "No Coder deployment chosen. Run  %coder use https://coder.example.com  "
            "(or set CODER_URL before starting the kernel)."
        )
    where = safe_url(deployment_url)
    return (
        f"Log in to {where}:\n"
        "  %coder login --code    open the printed address, approve, paste the code shown\n"
        "  %coder login --token   paste an API token (create one with `coder tokens create`\n"
        f"                         or at {where}/settings/tokens); it is not echoed\n"
        "  or: from getpass import getpass; coder.auth.login_with_token(getpass())\n"
        "  or set CODER_SESSION_TOKEN before starting the kernel."
    )


def fallback_html(deployment_url: str | None) -> str:
    """The same instructions as :func:`fallback_text`, as HTML (every value escaped)."""
    if deployment_url is None:
        return (
            "<div class='coder-jupyter-fallback'>No Coder deployment chosen. Run "
            "<code>%coder use https://coder.example.com</code> (or set <code>CODER_URL</code> "
            "before starting the kernel).</div>"
        )
    where = escape(safe_url(deployment_url))
    return (
        "<div class='coder-jupyter-fallback'>"
        f"<p>Log in to <a href='{where}' target='_blank' rel='noopener noreferrer'>{where}</a>:</p><ul>"
        "<li><code>%coder login --code</code> — open the printed address, approve, paste the code shown</li>"
        "<li><code>%coder login --token</code> — paste an API token (create one with "
        f"<code>coder tokens create</code> or at <a href='{where}/settings/tokens' target='_blank' "
        "rel='noopener noreferrer'>Account → Tokens</a>); it is not echoed, or "
        "<code>from getpass import getpass; coder.auth.login_with_token(getpass())</code></li>"
        "<li>or set <code>CODER_SESSION_TOKEN</code> before starting the kernel.</li></ul></div>"
    )
