"""Text the kernel side shows: status lines (the no-widget fallback lives in :mod:`.._public`).

Nothing here ever receives a secret: the inputs are :class:`~coder_jupyter._login.AuthStatus`
(public by construction) and deployment URLs (shown without query or credentials).
"""

from __future__ import annotations

import datetime as _dt
import time

from .._login import AuthStatus
from .._public import fallback_html, fallback_text, method_words, safe_url

__all__ = ["check_line", "fallback_html", "fallback_text", "safe_url", "status_line", "status_lines",
           "summary"]


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


def _host(url: str) -> str:
    """``https://coder.example.com/`` → ``coder.example.com`` (a path, if any, is kept)."""
    shown = safe_url(url)
    rest = shown.split("://", 1)[-1]
    return rest.rstrip("/") or shown


def _in(seconds: float) -> str:
    """``in 58 min`` / ``in 3 h 5 min`` / ``in 2 days``; ``N min ago`` when past."""
    minutes = round(abs(seconds) / 60)
    if minutes < 60:
        span = f"{max(minutes, 1)} min" if minutes or abs(seconds) >= 30 else "less than a minute"
    elif minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        span = f"{hours} h {rest} min" if rest else f"{hours} h"
    else:
        span = f"{minutes // (24 * 60)} days"
    return f"in {span}" if seconds >= 0 else f"{span} ago"


def summary(status: AuthStatus, *, now: float | None = None) -> str:
    """One human sentence: ``Logged in to coder.example.com as alice (OAuth, expires in 58 min).``"""
    host = _host(status.deployment_url)
    if status.status not in ("logged_in", "expired"):
        return status_line(status, widget=False)
    method = method_words(status.method, "a token")
    if status.expires_at is None:
        how = f"{method}, no expiry"
    else:
        left = status.expires_at - (time.time() if now is None else now)
        renewed = ", renewed automatically" if status.method == "oauth" else ""
        how = f"{method}, expires {_in(left)}{renewed}" if left > 0 else f"{method}, expired {_in(left)}"
    if status.status == "expired":
        return (f"The session for {host} has expired ({how}). Run %coder login (or click \"Log in\") "
                "to log in again.")
    who = f" as {status.username}" if status.username else ""
    return f"Logged in to {host}{who} ({how})."


def check_line(status: AuthStatus) -> str:
    """What ``%coder status --check`` found when it asked Coder (``status`` is the checked one)."""
    if status.status == "logged_in":
        who = f" (Coder says it belongs to {status.username})" if status.username else ""
        return f"Checked with Coder just now: the token works{who}."
    if status.status == "error":
        return (f"Checked with Coder just now: it failed — {status.error or 'no reason given'} "
                "Log in again (%coder login or the widget) if the token was refused.")
    return "Checked with Coder just now: nothing to check, no credentials are in use."


def status_lines(status: AuthStatus, *, checked: bool = False, now: float | None = None) -> list[str]:
    """The ``%coder status`` report — one human summary, then details; never a secret.

    ``checked``: ``status`` came from asking Coder (``--check``); a line says what that found.
    Other subsystems add their lines after these (one report, one place).
    """
    if checked and status.status == "error":  # the check failed, not a login
        method = method_words(status.method, "a token")
        lines = [f"Credentials for {_host(status.deployment_url)} ({method}) are in use, but Coder did not "
                 "accept them."]
    else:
        lines = [summary(status, now=now)]
    if checked:
        lines.append(check_line(status))
    lines.append(f"  Deployment:  {safe_url(status.deployment_url)}")
    if status.status in ("logged_in", "expired") and status.expires_at is not None:
        lines.append(f"  Expires:     {_when(status.expires_at)}")
    if status.scope:
        lines.append(f"  Scope:       {' '.join(status.scope)}")
        lines.append(f"  Allows:      {status.scope_summary}")
    if status.oauth_available is not None:
        offered = "offered" if status.oauth_available else "not offered by this deployment (use an API token)"
        lines.append(f"  OAuth login: {offered}")
    if status.error and not checked:
        lines.append(f"  Last error:  {status.error}")
    return lines
