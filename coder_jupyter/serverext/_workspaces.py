"""What the JupyterLab "Coder" panel needs from Coder, with no kernel: the workspace service.

:class:`WorkspaceService` holds one :class:`~coder_jupyter.client.AsyncCoder` for the configured
deployment. It is built from the server's ``CoderConfig`` (``c.CoderConfig.*``, ``CODER_URL``),
so it signs with the same credential store as every kernel of this user and refreshes through
the store's cross-process lock: a refresh made here is adopted by the kernels and vice versa.
All calls are ``async`` (httpx's async client; a refresh runs in a worker thread), so the tornado
loop never blocks.

The panel gets *projections* (:func:`workspace_json`, :func:`build_json`): an explicit list of
public fields, never Coder's raw JSON. That is the defence that keeps anything secret a future
Coder might add to a workspace (agent tokens, environment) out of the browser.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from traitlets.config import Configurable

from .._transport import RetryPolicy
from ..client import AsyncCoder, Workspace, WorkspaceBuild, WorkspaceList
from ..errors import CoderError, ConfigurationError

__all__ = [
    "LOG_TAIL_LINES",
    "TRANSITIONS",
    "WorkspaceService",
    "apps_of",
    "build_json",
    "workspace_json",
]

#: The actions the panel may ask for (``delete`` is deliberately not one of them).
TRANSITIONS = frozenset({"start", "stop", "restart"})

#: How many of a failed build's last log lines the panel shows.
LOG_TAIL_LINES = 20

#: The panel fails fast and backs off itself: one retry, and never wait long for ``Retry-After``.
PANEL_RETRY = RetryPolicy(attempts=2, retry_after_cap=2.0)

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _web_url(url: Any) -> str | None:
    """``url`` if it is an absolute http(s) URL without credentials, else ``None``."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        return None
    return url


def build_json(build: WorkspaceBuild) -> dict[str, Any]:
    """The public fields of a build: what the panel shows while it runs."""
    return {
        "id": build.id,
        "number": build.build_number,
        "transition": build.transition,
        "status": build.status,
        "job_status": build.job.status,
        "error": build.job.error or None,
        "done": build.done,
        "failed": build.failed,
        "created_at": _iso(build.created_at),
    }


def apps_of(workspace: Workspace, base_url: str) -> list[dict[str, str | None]]:
    """The workspace's apps (code-server, ...) that can be opened from a browser.

    Read from the latest build's ``resources[].agents[].apps[]`` (not modelled by the client,
    hence ``.raw``). External apps open their own ``url``; path apps open
    ``<deployment>/@owner/workspace.agent/apps/slug/``; subdomain apps need the deployment's
    wildcard host, so they open the workspace's dashboard page, which links them.
    """
    apps: list[dict[str, str | None]] = []
    resources = workspace.raw.get("latest_build", {}).get("resources") or []
    for resource in resources if isinstance(resources, list) else []:
        for agent in (resource.get("agents") or []) if isinstance(resource, dict) else []:
            if not isinstance(agent, dict):
                continue
            for app in agent.get("apps") or []:
                if not isinstance(app, dict) or app.get("hidden"):
                    continue
                slug = str(app.get("slug") or "")
                if app.get("external"):
                    url = _web_url(app.get("url"))
                elif app.get("subdomain"):
                    url = workspace.dashboard_url
                elif slug:
                    url = (f"{base_url}/@{quote(workspace.owner_name)}/{quote(workspace.name)}."
                           f"{quote(str(agent.get('name') or ''))}/apps/{quote(slug)}/")
                else:
                    url = None
                if url:
                    apps.append({
                        "slug": slug,
                        "name": str(app.get("display_name") or slug),
                        "agent": str(agent.get("name") or ""),
                        "url": url,
                        "health": str(app.get("health") or "") or None,
                    })
    return apps


def workspace_json(workspace: Workspace, base_url: str, *, detail: bool = False) -> dict[str, Any]:
    """The public fields of a workspace: a row of the panel (``detail`` adds its apps)."""
    body: dict[str, Any] = {
        "id": workspace.id,
        "name": workspace.name,
        "owner": workspace.owner_name,
        "full_name": workspace.full_name,
        "status": workspace.status,
        "template": workspace.template_name,
        "template_display_name": workspace.template_display_name or workspace.template_name,
        "outdated": workspace.outdated,
        "healthy": workspace.health.healthy,
        "last_used_at": _iso(workspace.last_used_at),
        "dashboard_url": workspace.dashboard_url or f"{base_url}/@{workspace.owner_name}/{workspace.name}",
        "build": build_json(workspace.latest_build),
    }
    if detail:
        body["apps"] = apps_of(workspace, base_url)
    return body


class WorkspaceService:
    """Workspace queries and actions for the server extension, over one shared :class:`AsyncCoder`.

    Args:
        parent: the extension app; its traitlets config (``c.CoderConfig.*``) configures the
            deployment, TLS and headers exactly as in a kernel.
    """

    def __init__(self, parent: Configurable | None = None) -> None:
        self._parent = parent
        self._coder: AsyncCoder | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def coder(self) -> AsyncCoder:
        """The client of the configured deployment (replaced when the configured URL changes).

        Raises:
            ConfigurationError: no deployment is configured.
        """
        from .._config import CoderConfig

        config = CoderConfig(parent=self._parent)
        url = config.resolved_url() or None
        if url is None:
            raise ConfigurationError(
                "No Coder deployment is configured for this Jupyter server. Set CODER_URL, or "
                "c.CoderConfig.url in jupyter_server_config.py, and restart the server."
            )
        if self._coder is None or self._coder.url != url:
            old, self._coder = self._coder, AsyncCoder(url, config=config, retry=PANEL_RETRY)
            if old is not None:
                self._spawn(old.aclose())
        return self._coder

    async def page(self, query: str, offset: int, limit: int) -> tuple[WorkspaceList, str]:
        """One page of the workspaces matching ``query`` and the deployment URL."""
        coder = self.coder()
        return await coder.workspaces_page(query, offset=offset, limit=limit), coder.url

    async def workspace(self, workspace_id: str) -> dict[str, Any]:
        """One workspace with its apps, and the failed latest build's last log lines."""
        coder = self.coder()
        ws = await coder.workspace(workspace_id)
        body = workspace_json(ws, coder.url, detail=True)
        if ws.latest_build.failed:
            lines = [str(line) async for line in coder.build_logs(ws.latest_build)]
            body["build"]["log_tail"] = lines[-LOG_TAIL_LINES:]
        return body

    async def transition(self, workspace_id: str, action: str) -> dict[str, Any]:
        """Start, stop or restart a workspace without waiting; returns the new build.

        A restart answers with the stop build and starts the workspace once the stop succeeded
        (what the dashboard's Restart does); the panel follows both by polling the workspace.
        """
        if action not in TRANSITIONS:
            raise ValueError(action)
        coder = self.coder()
        if action == "restart":
            build = await coder.stop(workspace_id, wait=False)
            self._spawn(self._start_after(coder, build))
        elif action == "stop":
            build = await coder.stop(workspace_id, wait=False)
        else:
            build = await coder.start(workspace_id, wait=False)
        return build_json(build)

    async def _start_after(self, coder: AsyncCoder, stop: WorkspaceBuild) -> None:
        try:
            stopped = await coder.wait(stop, progress=False)
            await coder.start(stopped.workspace_id, wait=False)
        except CoderError as exc:  # the panel sees the failed stop build when it polls
            log.warning("Restart of %s did not start it again: %s", stop.workspace_full_name, exc)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel pending restarts and close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        if self._coder is not None:
            await self._coder.aclose()
            self._coder = None
