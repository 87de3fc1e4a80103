"""HTML reprs for notebooks: status badges, dashboard links, small tables.

Every value from the server goes through :func:`html.escape` (a workspace name or a template
description is user-controlled text). Nothing here can see a secret: the models hold none.
Functions take the models duck-typed, so this module imports nothing from :mod:`.models`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime
from typing import Any

__all__ = [
    "badge",
    "build_html",
    "buildinfo_html",
    "organization_html",
    "template_html",
    "templates_table_html",
    "user_html",
    "workspace_html",
    "workspaces_table_html",
]

_COLORS = {
    "running": "#2e7d32",
    "stopped": "#616161",
    "starting": "#1565c0",
    "stopping": "#1565c0",
    "pending": "#1565c0",
    "deleting": "#6a1b9a",
    "deleted": "#9e9e9e",
    "canceling": "#ef6c00",
    "canceled": "#ef6c00",
    "failed": "#c62828",
}
_STYLE = "font-size:0.9em;border-collapse:collapse"
_CELL = "padding:2px 8px;text-align:left"
_MAX_ROWS = 50


def e(value: object) -> str:
    """Escape any value for HTML (``None`` becomes an empty string)."""
    return "" if value is None else html.escape(str(value))


def badge(status: str) -> str:
    """A coloured pill showing a workspace/build status."""
    color = _COLORS.get(status, "#455a64")
    return (
        f'<span style="background:{color};color:#fff;border-radius:8px;padding:1px 8px;'
        f'font-size:0.85em">{e(status or "unknown")}</span>'
    )


def _link(url: str | None, text: str) -> str:
    # Only http(s) becomes a link: a server-supplied ``javascript:`` URL would run in Jupyter's origin.
    if not url or not url.strip().lower().startswith(("https://", "http://")):
        return e(text)
    return f'<a href="{e(url)}" target="_blank" rel="noopener">{e(text)}</a>'


def _when(value: datetime | None) -> str:
    if value is None or value.year <= 1:
        return ""
    return e(value.strftime("%Y-%m-%d %H:%M"))


def _table(headers: Iterable[str], rows: list[list[str]], total: int) -> str:
    head = "".join(f'<th style="{_CELL}">{e(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>" for row in rows
    )
    more = f"<div><i>… and {total - len(rows)} more</i></div>" if total > len(rows) else ""
    return f'<table style="{_STYLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}'


def workspace_html(ws: Any) -> str:
    """One workspace: name linking to the dashboard, status badge, template, owner."""
    build = ws.latest_build
    return (
        f"<div><b>{_link(ws.dashboard_url, ws.full_name)}</b> {badge(ws.status)} "
        f"<span>template <code>{e(ws.template_name)}</code>, build #{e(build.build_number)} "
        f"({e(build.transition)}), last used {_when(ws.last_used_at) or 'never'}</span></div>"
    )


def workspaces_table_html(workspaces: list[Any]) -> str:
    """A table of workspaces (the first 50 rows; the count of the rest)."""
    if not workspaces:
        return "<i>No workspaces.</i>"
    rows = [
        [
            _link(ws.dashboard_url, ws.full_name),
            badge(ws.status),
            e(ws.template_name),
            e(ws.latest_build.transition),
            _when(ws.last_used_at),
        ]
        for ws in workspaces[:_MAX_ROWS]
    ]
    return _table(["workspace", "status", "template", "last transition", "last used"], rows, len(workspaces))


def build_html(build: Any) -> str:
    """One build: workspace, number, transition, status badge and the job error if any."""
    error = f' <span style="color:#c62828">{e(build.job.error)}</span>' if build.job.error else ""
    return (
        f"<div>build #{e(build.build_number)} of <b>{e(build.workspace_full_name)}</b>: "
        f"{e(build.transition)} {badge(build.status)}{error}</div>"
    )


def template_html(t: Any) -> str:
    """One template: display name, name, description."""
    deprecated = ' <span style="color:#ef6c00">deprecated</span>' if t.deprecated else ""
    return (
        f"<div><b>{e(t.display_name or t.name)}</b> <code>{e(t.name)}</code>{deprecated}"
        f"<div>{e(t.description)}</div></div>"
    )


def templates_table_html(templates: list[Any]) -> str:
    """A table of templates."""
    if not templates:
        return "<i>No templates.</i>"
    rows = [
        [f"<code>{e(t.name)}</code>", e(t.display_name), e(t.description), e(t.organization_name)]
        for t in templates[:_MAX_ROWS]
    ]
    return _table(["name", "display name", "description", "organization"], rows, len(templates))


def user_html(user: Any) -> str:
    """The current user: username, name, email, roles, status."""
    roles = ", ".join(r.display_name or r.name for r in user.roles) or "member"
    base = user.base_url
    return (
        f"<div>Logged in as <b>{e(user.username)}</b> ({e(user.name or user.email)}) on "
        f"{_link(base, base or 'Coder')} — {e(roles)}, {e(user.status)}</div>"
    )


def organization_html(org: Any) -> str:
    """One organization."""
    default = " (default)" if org.is_default else ""
    return f"<div><b>{e(org.display_name or org.name)}</b> <code>{e(org.name)}</code>{e(default)}</div>"


def buildinfo_html(info: Any) -> str:
    """The deployment's version and dashboard link."""
    return f"<div>Coder {e(info.version)} at {_link(info.dashboard_url, info.dashboard_url)}</div>"
