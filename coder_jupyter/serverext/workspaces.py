"""The JSON routes of the JupyterLab "Coder" panel: list, inspect, start, stop and restart workspaces.

Routes (each under the server's ``base_url``):

==============================================  ======  =============================================
``coder/api/workspaces?q=&offset=&limit=``      GET     one page: ``{"deployment", "query", "offset",
                                                        "limit", "count", "workspaces": [row…]}``
``coder/api/workspaces/{id}``                   GET     one row plus ``apps`` and, when its latest
                                                        build failed, ``build.log_tail``
``coder/api/workspaces/{id}/{action}``          POST    ``action`` ∈ start, stop, restart → the new
                                                        build (not waited for: the panel polls)
==============================================  ======  =============================================

Like the login routes they are :class:`~jupyter_server.base.handlers.APIHandler`\\ s: the Jupyter
user must be authenticated and POSTs need the XSRF token. Input is checked before Coder is
called: ``q`` at most :data:`MAX_QUERY_LENGTH` printable characters, ``offset``/``limit``
bounded integers, ``id`` a UUID, ``action`` one of the three. Coder's errors map to statuses the
panel understands: 409 not logged in / not configured, 404, 429 (with ``Retry-After``), 502.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tornado import web

from ..errors import (
    AuthenticationError,
    CoderAPIError,
    CoderError,
    ConfigurationError,
    NotFoundError,
    NotLoggedInError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from ._workspaces import TRANSITIONS, WorkspaceService, workspace_json
from .handlers import _JSONHandler

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_QUERY_LENGTH",
    "WorkspaceActionHandler",
    "WorkspaceHandler",
    "WorkspacesHandler",
    "workspace_handlers",
]

#: Longest accepted ``q`` (Coder's own search box has no use for more).
MAX_QUERY_LENGTH = 512
#: Largest page the panel may ask for.
MAX_LIMIT = 200
#: Largest accepted offset.
MAX_OFFSET = 1_000_000

T = TypeVar("T")


def workspace_handlers() -> list[tuple[str, Any]]:
    """The panel's routes, relative to ``base_url`` (registered by :class:`CoderJupyterApp`)."""
    return [
        ("coder/api/workspaces", WorkspacesHandler),
        (r"coder/api/workspaces/([^/]+)", WorkspaceHandler),
        (r"coder/api/workspaces/([^/]+)/([^/]+)", WorkspaceActionHandler),
    ]


def _workspace_id(value: str) -> str:
    """``value`` as a canonical UUID; anything else is refused before Coder hears of it."""
    try:
        parsed = uuid.UUID(value) if len(value) == 36 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise web.HTTPError(400, "The workspace id must be a UUID.")
    return str(parsed)


class _WorkspaceRoute(_JSONHandler):
    """Common part: the service, and Coder errors turned into JSON answers."""

    @property
    def service(self) -> WorkspaceService:
        service: WorkspaceService = self.extensionapp.workspaces  # type: ignore[attr-defined]
        return service

    async def call(self, make: Callable[[], Awaitable[T]]) -> T | None:
        """Await ``make()``; on a Coder error answer it and return ``None``."""
        try:
            return await make()
        except (ConfigurationError, NotLoggedInError, AuthenticationError) as exc:
            self.send({"message": str(exc), "error": type(exc).__name__, "login_required":
                       not isinstance(exc, ConfigurationError)}, 409)
        except RateLimitedError as exc:
            if exc.retry_after is not None:
                self.set_header("Retry-After", str(max(1, round(exc.retry_after))))
            self.send_error_json(429, exc)
        except NotFoundError as exc:
            self.send_error_json(404, exc)
        except PermissionDeniedError as exc:
            self.send_error_json(403, exc)
        except ValidationError as exc:
            self.send_error_json(400, exc)
        except CoderAPIError as exc:
            self.send_error_json(502 if exc.status >= 500 else 400, exc)
        except CoderError as exc:
            self.send_error_json(502, exc)
        return None


class WorkspacesHandler(_WorkspaceRoute):
    """``GET coder/api/workspaces?q=owner:me&offset=0&limit=50`` — one page of workspaces."""

    def _int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, str(default), strip=False)
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not low <= int(raw) <= high:
            raise web.HTTPError(400, f"{name} must be an integer from {low} to {high}.")
        return int(raw)

    def _query(self) -> str:
        values = self.request.query_arguments.get("q", [b"owner:me"])
        if len(values) != 1:
            raise web.HTTPError(400, "Give q at most once.")
        q = values[0].decode("utf-8", errors="replace")
        if len(q) > MAX_QUERY_LENGTH or not all(ch.isprintable() for ch in q) or "\ufffd" in q:
            raise web.HTTPError(400, f"q must be at most {MAX_QUERY_LENGTH} printable characters.")
        return q.strip()

    @web.authenticated
    async def get(self) -> None:
        """Reply with one page of the workspaces matching ``q`` (Coder's search syntax)."""
        query = self._query()
        offset = self._int("offset", 0, 0, MAX_OFFSET)
        limit = self._int("limit", 50, 1, MAX_LIMIT)
        result = await self.call(lambda: self.service.page(query, offset, limit))
        if result is None:
            return
        page, deployment = result
        self.send({
            "deployment": deployment,
            "query": query,
            "offset": offset,
            "limit": limit,
            "count": page.total,
            "workspaces": [workspace_json(ws, deployment) for ws in page],
        })


class WorkspaceHandler(_WorkspaceRoute):
    """``GET coder/api/workspaces/{id}`` — one workspace, its apps and its failure's log tail."""

    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        """Reply with the workspace (see :meth:`WorkspaceService.workspace`)."""
        ws_id = _workspace_id(workspace_id)
        body = await self.call(lambda: self.service.workspace(ws_id))
        if body is not None:
            self.send(body)


class WorkspaceActionHandler(_WorkspaceRoute):
    """``POST coder/api/workspaces/{id}/{start|stop|restart}`` — queue a build; reply with it."""

    @web.authenticated
    async def post(self, workspace_id: str, action: str) -> None:
        """Start, stop or restart the workspace; 400 for any other action."""
        ws_id = _workspace_id(workspace_id)
        if action not in TRANSITIONS:
            raise web.HTTPError(400, "The action must be start, stop or restart.")
        build = await self.call(lambda: self.service.transition(ws_id, action))
        if build is not None:
            self.send({"build": build})
