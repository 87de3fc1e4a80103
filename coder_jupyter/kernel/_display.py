"""Text the kernel side shows: status lines (the no-widget fallback lives in :mod:`.._public`).

Nothing here ever receives a secret: the inputs are :class:`~coder_jupyter._login.AuthStatus`
(public by construction) and deployment URLs (shown without query or credentials).
"""

from __future__ import annotations

import datetime as _dt

from .._login import AuthStatus
from .._public import fallback_html, fallback_text, method_words, safe_url

__all__ = ["fallback_html", "fallback_text", "safe_url", "status_line", "status_lines"]


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
    method = method_words(status.method)
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
    method = method_words(status.method, "—")
    lines = [
        f"Deployment: {safe_url(status.deployment_url)}",
        f"Status:     {status.status}",
        f"User:       {status.username or '—'}",
        f"Method:     {method}",
        f"Expires:    {_when(status.expires_at) if status.status in ('logged_in', 'expired') else '—'}",
    ]
    if status.scope:
        lines.append(f"Scope:      {' '.join(status.scope)}")
        lines.append(f"Allows:     {status.scope_summary}")
    if status.oauth_available is not None:
        offered = "available" if status.oauth_available else "not offered by this deployment"
        lines.append(f"OAuth:      {offered}")
    if status.error:
        lines.append(f"Error:      {status.error}")
    return lines
