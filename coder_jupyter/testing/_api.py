"""REST API subset under ``/api/v2``: build info, users, tokens, templates, workspaces, builds, logs.

Shapes come from :mod:`._serialize`; visibility follows Coder's RBAC in a simplified form:
owners see everything, members see themselves and their own workspaces. From G4 on, an access
token's scope narrows that further, as :mod:`._permissions` declares per route.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import tornado.websocket

from ._http import INVALID, NOT_FOUND, BaseHandler, locked
from ._scopes import SCOPE_CATALOG
from ._serialize import (
    build_json,
    buildinfo_json,
    log_json,
    organization_json,
    template_json,
    user_json,
    workspace_json,
    workspace_json_bytes,
    workspaces_response,
)
from ._state import (
    ACTIVE_JOB_STATUSES,
    Build,
    Job,
    Template,
    User,
    Workspace,
    is_uuid,
    job_status,
    workspace_status,
)

_NAME_RE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
_WORKSPACE_STATUSES = (
    "pending",
    "starting",
    "running",
    "stopping",
    "stopped",
    "failed",
    "canceling",
    "canceled",
    "deleting",
    "deleted",
)
#: Keys Coder's workspace search accepts; those not modelled are accepted and ignored.
_QUERY_KEYS = {
    "owner",
    "template",
    "name",
    "status",
    "has-agent",
    "dormant",
    "last_used_after",
    "last_used_before",
    "has-ai-task",
    "has_external_agent",
    "healthy",
    "include_agent_metadata",
    "id",
    "outdated",
    "organization",
    "param",
    "shared",
}
_TERMINAL = frozenset({"succeeded", "failed", "canceled"})
FORBIDDEN = "Forbidden."


class ApiHandler(BaseHandler):
    rate_bucket = "api"

    def user_param(self, ref: str, me: User) -> User | None:
        """Resolve ``{user}`` (``me``, UUID or username); write Coder's 400 if unknown."""
        state = self.state
        user = me if ref == "me" else state.users.get(ref) or state.users_by_name.get(ref.lower())
        if user is None:
            self.send_response(400, f'"{ref}" must be an existing uuid or username.')
            return None
        return user

    def visible(self, ws: Workspace, user: User) -> bool:
        return user.owner or ws.owner_id == user.id

    def workspace_param(self, ws_id: str, user: User) -> Workspace | None:
        if not is_uuid(ws_id):
            self.send_response(400, f'Invalid UUID "{ws_id}".', detail="invalid UUID format")
            return None
        ws = self.state.workspaces.get(ws_id)
        include_deleted = self.get_query_argument("include_deleted", "") == "true"
        if (
            ws is None
            or not self.visible(ws, user)
            or (not include_deleted and self.state.workspace_is_deleted(ws, self.state.clock.now()))
        ):
            self.not_found()
            return None
        return ws

    def build_param(self, build_id: str, user: User) -> Build | None:
        if not is_uuid(build_id):
            self.send_response(400, f'Invalid UUID "{build_id}".', detail="invalid UUID format")
            return None
        build = self.state.builds.get(build_id)
        if build is None or not self.visible(self.state.workspaces[build.workspace_id], user):
            self.not_found()
            return None
        return build

    def int_params(self, *names: str) -> dict[str, int] | None:
        values: dict[str, int] = {}
        problems = []
        for name in names:
            raw = self.get_query_argument(name, "") or ""
            if raw == "":
                values[name] = 0
                continue
            try:
                values[name] = int(raw)
                if values[name] < 0:
                    raise ValueError
            except ValueError:
                problems.append(
                    {"field": name, "detail": f'Query param "{name}" must be a valid positive integer'}
                )
        if problems:
            self.validation_failed(problems, "Query parameters have invalid values.")
            return None
        return values

    def send_bytes(self, status: int, body: bytes) -> None:
        """Like ``send_json`` for a body already serialized (see ``_serialize.workspaces_response``)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(body)


class BuildInfoHandler(ApiHandler):
    route = "/api/v2/buildinfo"

    @locked
    def get(self) -> None:
        self.send_json(200, buildinfo_json(self.state, self.ctx.base_url, self.settings_.version))


class FirstUserHandler(ApiHandler):
    """``GET /api/v2/users/first`` (no auth): whether the deployment has its first user (CLI login)."""

    route = "/api/v2/users/first"

    @locked
    def get(self) -> None:
        if self.state.users:
            self.send_response(200, "The initial user has already been created!")
        else:
            self.send_response(404, "The initial user has not been created!")


class ScopesHandler(ApiHandler):
    """``GET /api/v2/auth/scopes``: the external scope catalog (answered without a session)."""

    route = "/api/v2/auth/scopes"

    @locked
    def get(self) -> None:
        self.send_json(200, {"external": list(SCOPE_CATALOG)})


class UserHandler(ApiHandler):
    route = "/api/v2/users/{user}"

    @locked
    def get(self, ref: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        user = self.user_param(ref, auth[0])
        if user is not None:
            self.send_json(200, user_json(self.state, user))

    head = get  # the middleware runs before method routing: same status and headers


class UserOrganizationsHandler(ApiHandler):
    route = "/api/v2/users/{user}/organizations"

    @locked
    def get(self, ref: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        if self.user_param(ref, auth[0]) is not None:
            orgs = [] if self.hidden("organization_member") else [organization_json(self.state.default_org)]
            self.send_json(200, orgs)


class UserTokensHandler(ApiHandler):
    """``POST /api/v2/users/{user}/keys/tokens {token_name, lifetime(ns)}`` → 201 ``{key}``."""

    route = "/api/v2/users/{user}/keys/tokens"

    @locked
    def post(self, ref: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        user = self.user_param(ref, auth[0])
        if user is None:
            return
        if user.id != auth[0].id and not auth[0].owner:
            self.send_response(403, FORBIDDEN)
            return
        body = self.read_json()
        if body is INVALID:
            return
        body = body if isinstance(body, dict) else {}
        lifetime_ns = body.get("lifetime") or 0
        if not isinstance(lifetime_ns, int) or lifetime_ns < 0:
            self.validation_failed([{"field": "lifetime", "detail": "must be a positive duration"}])
            return
        lifetime = lifetime_ns / 1e9 if lifetime_ns else 30 * 86400.0
        name = str(body.get("token_name") or "")
        if name and any(k.token_name == name and k.user_id == user.id for k in self.state.api_keys.values()):
            self.send_response(409, f"A token with name {name!r} already exists.")
            return
        token, _ = self.state.issue_api_key(user, lifetime=lifetime, login_type="token", token_name=name)
        self.send_json(201, {"key": token})


class TemplatesHandler(ApiHandler):
    route = "/api/v2/templates"

    @locked
    def get(self, org: str | None = None) -> None:
        if self.authenticate() is None:
            return
        if org is not None and org not in (self.state.default_org.id, self.state.default_org.name):
            self.not_found()
            return
        templates = sorted(self.state.templates.values(), key=lambda t: t.name)
        if self.hidden("template"):
            templates = []
        self.send_json(200, [template_json(self.state, t) for t in templates])


class OrganizationTemplatesHandler(TemplatesHandler):
    route = "/api/v2/organizations/{org}/templates"


class TemplateHandler(ApiHandler):
    """``GET``/``DELETE /api/v2/templates/{id}`` (deleting needs every workspace of it gone)."""

    route = "/api/v2/templates/{id}"

    def _template(self, template_id: str) -> tuple[User, Template] | None:
        auth = self.authenticate()
        if auth is None:
            return None
        template = self.state.templates.get(template_id)
        if template is None:
            self.not_found()
            return None
        return auth[0], template

    @locked
    def get(self, template_id: str) -> None:
        found = self._template(template_id)
        if found is not None:
            self.send_json(200, template_json(self.state, found[1]))

    @locked
    def delete(self, template_id: str) -> None:
        found = self._template(template_id)
        if found is None:
            return
        user, template = found
        if not user.owner:
            self.send_response(403, FORBIDDEN)
            return
        now = self.state.clock.now()
        if any(
            ws.template_id == template.id and not self.state.workspace_is_deleted(ws, now)
            for ws in self.state.workspaces.values()
        ):
            self.send_response(400, "All workspaces must be deleted before a template can be removed.")
            return
        del self.state.templates[template.id]
        self.send_response(200, "Template has been deleted!")


def _parse_search(q: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    filters: dict[str, str] = {}
    problems: list[dict[str, str]] = []
    for term in q.split():
        if ":" not in term:
            filters["name"] = term
            continue
        key, value = term.split(":", 1)
        key = key.lower()
        if key not in _QUERY_KEYS:
            problems.append({"field": key, "detail": f'Query param "{key}" is not a valid query param'})
        elif key == "status" and value.lower() not in _WORKSPACE_STATUSES:
            problems.append(
                {"field": "status", "detail": f'Query param "status" has invalid value: "{value}"'}
            )
        else:
            filters[key] = value.strip('"')
    return filters, problems


class WorkspacesHandler(ApiHandler):
    """``GET /api/v2/workspaces?q=&offset=&limit=`` → ``{"workspaces": [...], "count": total}``."""

    route = "/api/v2/workspaces"

    @locked
    def get(self) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        me = auth[0]
        filters, problems = _parse_search(self.get_query_argument("q", "") or "")
        if problems:
            self.validation_failed(problems, "Invalid workspace search query.")
            return
        page = self.int_params("offset", "limit")
        if page is None:
            return
        if self.hidden("workspace"):  # the database authorizer filters every row out
            self.send_json(200, {"workspaces": [], "count": 0})
            return
        owner_id: str | None = None if me.owner else me.id
        if "owner" in filters:
            owner = me if filters["owner"].lower() == "me" else self.state.find_user(filters["owner"])
            if owner is None or (not me.owner and owner.id != me.id):
                self.send_json(200, {"workspaces": [], "count": 0})
                return
            owner_id = owner.id
        name = filters.get("name", "").lower()
        status = filters.get("status", "").lower()
        template = self.state.find_template(filters["template"]) if "template" in filters else None
        if "template" in filters and template is None:
            self.send_json(200, {"workspaces": [], "count": 0})
            return
        dormant = filters.get("dormant", "").lower() == "true"

        def predicate(ws: Workspace, now: float) -> bool:
            if dormant:
                return False
            if name and name not in ws.name.lower():
                return False
            if template is not None and ws.template_id != template.id:
                return False
            if status:
                build = ws.builds[-1]
                return workspace_status(build.transition, job_status(build.job, now)) == status
            return True

        offset, limit = page["offset"], page["limit"]
        if dormant or name or status or template is not None:
            matched = self.state.list_workspaces(owner_id=owner_id, predicate=predicate)
            selected, count = (matched[offset : offset + limit] if limit else matched[offset:]), len(matched)
        else:
            selected, count = self.state.list_workspace_page(owner_id=owner_id, offset=offset, limit=limit)
        body = workspaces_response(self.state, selected, count, self.state.clock.now())
        self.send_bytes(200, body)


class WorkspaceHandler(ApiHandler):
    route = "/api/v2/workspaces/{id}"

    @locked
    def get(self, ws_id: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        ws = self.workspace_param(ws_id, auth[0])
        if ws is not None:
            self.send_bytes(200, workspace_json_bytes(self.state, ws, self.state.clock.now()))


class UserWorkspaceByNameHandler(ApiHandler):
    route = "/api/v2/users/{user}/workspace/{name}"

    @locked
    def get(self, ref: str, name: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        owner = self.user_param(ref, auth[0])
        if owner is None:
            return
        ws = self.state.find_workspace_by_name(owner.id, name)
        if ws is None and self.get_query_argument("include_deleted", "") == "true":
            ws_id = self.state._ws_by_name.get((owner.id, name.lower()))
            ws = self.state.workspaces.get(ws_id) if ws_id else None
        if ws is None or not self.visible(ws, auth[0]):
            self.send_response(404, NOT_FOUND)
            return
        self.send_json(200, workspace_json(self.state, ws))


class CreateWorkspaceHandler(ApiHandler):
    """``POST /api/v2/users/{user}/workspaces`` (and the organization-scoped form)."""

    route = "/api/v2/users/{user}/workspaces"

    @locked
    def post(self, *refs: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        me = auth[0]
        owner = self.user_param(refs[-1], me)
        if owner is None:
            return
        if owner.id != me.id and not me.owner:
            self.send_response(403, FORBIDDEN)
            return
        body = self.read_json()
        if body is INVALID:
            return
        body = body if isinstance(body, dict) else {}
        name = body.get("name")
        problems = []
        if not isinstance(name, str) or not name:
            problems.append(
                {"field": "name", "detail": 'Validation failed for tag "required" with value: ""'}
            )
        elif len(name) > 32 or not _NAME_RE.match(name):
            problems.append(
                {"field": "name", "detail": "Must be alphanumeric with hyphens, at most 32 characters."}
            )
        template_id, version_id = body.get("template_id"), body.get("template_version_id")
        if template_id and version_id:
            self.send_response(400, "You cannot specify both a template_id and a template_version_id.")
            return
        template = None
        if template_id:
            template = self.state.templates.get(str(template_id))
            if template is None:
                problems.append({"field": "template_id", "detail": "template not found"})
        elif version_id:
            template = next(
                (t for t in self.state.templates.values() if t.active_version_id == version_id), None
            )
            if template is None:
                problems.append({"field": "template_version_id", "detail": "template version not found"})
        else:
            problems.append(
                {"field": "template_id", "detail": "template_id or template_version_id is required"}
            )
        if problems:
            self.validation_failed(problems)
            return
        assert template is not None and isinstance(name, str)
        if self.state.find_workspace_by_name(owner.id, name) is not None:
            self.send_json(
                409,
                {
                    "message": f'Workspace "{name}" already exists.',
                    "validations": [
                        {"field": "name", "detail": "This value is already in use and should be unique."}
                    ],
                },
            )
            return
        ttl = body.get("ttl_ms")
        ws = self.state.add_workspace(
            owner,
            name,
            template,
            ttl_ms=ttl if isinstance(ttl, int) else None,
            autostart_schedule=body.get("autostart_schedule") or None,
            automatic_updates=str(body.get("automatic_updates") or "never"),
        )
        self.send_json(201, workspace_json(self.state, ws))


class OrganizationCreateWorkspaceHandler(CreateWorkspaceHandler):
    route = "/api/v2/organizations/{org}/members/{user}/workspaces"


class WorkspaceBuildsHandler(ApiHandler):
    """``GET`` lists builds (newest first); ``POST {transition}`` starts a new one."""

    route = "/api/v2/workspaces/{id}/builds"

    @locked
    def get(self, ws_id: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        ws = self.workspace_param(ws_id, auth[0])
        page = self.int_params("offset", "limit")
        if ws is None or page is None:
            return
        builds = list(reversed(ws.builds))[page["offset"] :]
        if page["limit"]:
            builds = builds[: page["limit"]]
        now = self.state.clock.now()
        self.send_json(200, [build_json(self.state, b, now) for b in builds])

    @locked
    def post(self, ws_id: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        ws = self.workspace_param(ws_id, auth[0])
        if ws is None:
            return
        body = self.read_json()
        if body is INVALID:
            return
        transition = body.get("transition") if isinstance(body, dict) else None
        if transition not in ("start", "stop", "delete"):
            self.validation_failed(
                [
                    {
                        "field": "transition",
                        "detail": f'Validation failed for tag "oneof" with value: "{transition}"',
                    }
                ]
            )
            return
        if not self.enforce_scope(transition=transition):
            return
        if job_status(ws.latest_build.job, self.state.clock.now()) in ACTIVE_JOB_STATUSES:
            self.send_response(
                409,
                "Workspace build already in progress.",
                detail="A workspace build is already active. Wait for it to finish or cancel it.",
            )
            return
        build = self.state.add_build(ws, transition, auth[0])
        self.send_json(201, build_json(self.state, build))


class WorkspaceBuildHandler(ApiHandler):
    route = "/api/v2/workspacebuilds/{id}"

    @locked
    def get(self, build_id: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        build = self.build_param(build_id, auth[0])
        if build is not None:
            self.send_json(200, build_json(self.state, build))


class CancelBuildHandler(ApiHandler):
    """``PATCH /api/v2/workspacebuilds/{id}/cancel[?expect_status=pending|running]``."""

    route = "/api/v2/workspacebuilds/{id}/cancel"

    @locked
    def patch(self, build_id: str) -> None:
        auth = self.authenticate()
        if auth is None:
            return
        build = self.build_param(build_id, auth[0])
        if build is None:
            return
        status = job_status(build.job, self.state.clock.now())
        expect = self.get_query_argument("expect_status", "")
        if expect and expect != status:
            self.send_response(
                412, "Job is not in the expected state.", detail=f"Expected {expect}, got {status}."
            )
            return
        if status == "canceling":
            self.send_response(400, "Job has already been marked as canceled!")
            return
        if status not in ("pending", "running"):
            self.send_response(400, "Job has already completed!")
            return
        self.state.cancel_job(build.job)
        self.send_response(200, "Job has been marked as canceled...")


class BuildLogsHandler(ApiHandler, tornado.websocket.WebSocketHandler):
    """``GET /api/v2/workspacebuilds/{id}/logs``: JSON array, or a WebSocket with ``?follow``.

    With ``follow`` the server sends one JSON ``ProvisionerJobLog`` per text message (starting
    after ``?after=<id>``) and closes the socket once the job has finished.
    """

    route = "/api/v2/workspacebuilds/{id}/logs"
    _job: Job | None = None
    _after: int = 0
    _task: asyncio.Task[None] | None = None

    def check_origin(self, origin: str) -> bool:
        return True

    async def get(self, *args: Any, **kwargs: Any) -> None:
        build_id = args[0]
        with self.state.lock:
            auth = self.authenticate()
            if auth is None:
                return
            build = self.build_param(build_id, auth[0])
            page = self.int_params("after", "before")
            if build is None or page is None:
                return
            if "follow" not in self.request.query_arguments:
                now = self.state.clock.now()
                logs = [
                    log_json(line)
                    for line in self.state.job_logs(build.job)
                    if line.created_at <= now
                    and line.id > page["after"]
                    and (not page["before"] or line.id < page["before"])
                ]
                self.send_json(200, logs)
                return
            self._job = build.job
            self._after = page["after"]
        await super().get(*args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        self._record(101)
        self.ctx_sockets().add(self)
        self._task = asyncio.ensure_future(self._stream())

    def ctx_sockets(self) -> set[BuildLogsHandler]:
        return self.application.settings["fake_sockets"]  # type: ignore[no-any-return]

    async def _stream(self) -> None:
        job = self._job
        assert job is not None
        try:
            while True:
                with self.state.lock:
                    now = self.state.clock.now()
                    lines = [
                        line
                        for line in self.state.job_logs(job)
                        if line.id > self._after and line.created_at <= now
                    ]
                    done = job_status(job, now) in _TERMINAL
                for line in lines:
                    await self.write_message(json.dumps(log_json(line)))
                    self._after = line.id
                if done:
                    self.close(1000, "job completed")
                    return
                await asyncio.sleep(0.02)
        except tornado.websocket.WebSocketClosedError:
            return

    def on_close(self) -> None:
        self.ctx_sockets().discard(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def on_message(self, message: str | bytes) -> None:
        return
