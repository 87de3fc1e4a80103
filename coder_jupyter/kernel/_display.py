"""Text and HTML the kernel side shows: status lines and the no-widget fallback.

Nothing here ever receives a secret: the inputs are :class:`~coder_jupyter._login.AuthStatus`
(public by construction) and deployment URLs (shown without query or credentials).
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from urllib.parse import urlsplit, urlunsplit

from .._login import AuthStatus

__all__ = ["fallback_html", "fallback_text", "safe_url", "status_line", "status_lines"]

_METHOD_WORDS = {
    "oauth": "OAuth",
    "token": "API token",
    "env": "CODER_SESSION_TOKEN",
    "cli": "Coder CLI session",
}


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to print."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _when(ts: float | None) -> str:
    if ts is None:
        return "no expiry"
    moment = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def status_line(status: AuthStatus, *, widget: bool = True) -> str:
    """One line: ``Logged in to https://coder.example.com as alice (OAuth).`` and the like.

    ``widget=False`` (a terminal IPython) points to ``%coder login`` instead of the widget.
    """
    where = safe_url(status.deployment_url)
    method = _METHOD_WORDS.get(status.method or "", status.method or "")
    if status.status == "logged_in":
        who = f" as {status.username}" if status.username else ""
        return f"Logged in to {where}{who} ({method})."
    if status.status == "expired":
        return f"The session for {where} has expired. Run %coder login (or click \"Log in\") to log in again."
    if status.status == "waiting":
        return f"Waiting for the login to {where} to finish in the browser…"
    if status.status == "error":
        reason = f": {status.error}" if status.error else "."
        return f"The last login to {where} failed{reason} Click \"Log in\" or run %coder login to try again."
    if not widget:
        return f"Not logged in to {where}. Run %coder login (or --token / --code)."
    return f"Not logged in to {where}. Click \"Log in\" below, or run %coder login."


def status_lines(status: AuthStatus) -> list[str]:
    """The ``%coder status`` report: deployment, state, user, method, expiry — never a secret."""
    method = _METHOD_WORDS.get(status.method or "", status.method or "—")
    lines = [
        f"Deployment: {safe_url(status.deployment_url)}",
        f"Status:     {status.status}",
        f"User:       {status.username or '—'}",
        f"Method:     {method}",
        f"Expires:    {_when(status.expires_at) if status.status in ('logged_in', 'expired') else '—'}",
    ]
    if status.oauth_available is not None:
        offered = "available" if status.oauth_available else "not offered by this deployment"
        lines.append(f"OAuth:      {offered}")
    if status.error:
        lines.append(f"Error:      {status.error}")
    return lines


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
        "rel='noopener noreferrer'>Account → Tokens</a>); it is not echoed</li>"
        "<li>or set <code>CODER_SESSION_TOKEN</code> before starting the kernel.</li></ul></div>"
    )
