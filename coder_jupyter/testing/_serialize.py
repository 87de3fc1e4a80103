"""Coder's JSON shapes (``definitions["codersdk.*"]`` in swagger.json), built from :mod:`._state` rows.

Every ``*_json`` function returns a plain ``dict`` ready for :func:`json.dumps`. Field sets
follow the swagger definitions; values the fake does not model get plausible constants.

Workspace listings are the one hot path (10 000 seeded workspaces must list quickly), so
:func:`workspaces_response` reuses each workspace's serialized bytes (see
:func:`workspace_json_parts`) and produces exactly what ``json.dumps`` of the dicts would.
"""

from __future__ import annotations

import json
from typing import Any

from ._scopes import canonical_list
from ._state import (
    Build,
    Job,
    LogLine,
    OAuthApp,
    Organization,
    State,
    Template,
    User,
    Workspace,
    job_status,
    new_uuid,
    rfc3339,
    workspace_status,
)


def user_json(state: State, user: User) -> dict[str, Any]:
    roles = [{"name": "owner", "display_name": "Owner", "organization_id": ""}] if user.owner else []
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "avatar_url": "",
        "status": user.status,
        "login_type": "password",
        "roles": roles,
        "organization_ids": [state.default_org.id],
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.created_at),
        "last_seen_at": rfc3339(user.last_seen_at),
        "theme_preference": "",
        "is_service_account": False,
        "has_ai_seat": False,
    }


def organization_json(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "display_name": org.display_name,
        "description": "",
        "icon": "",
        "is_default": True,
        "default_org_member_roles": [],
        "created_at": rfc3339(org.created_at),
        "updated_at": rfc3339(org.created_at),
    }


def template_json(state: State, template: Template) -> dict[str, Any]:
    org = state.default_org
    owner = next(iter(state.users.values()))
    return {
        "id": template.id,
        "name": template.name,
        "display_name": template.display_name,
        "description": template.description,
        "icon": template.icon,
        "organization_id": org.id,
        "organization_name": org.name,
        "organization_display_name": org.display_name,
        "organization_icon": "",
        "active_version_id": template.active_version_id,
        "active_user_count": 0,
        "activity_bump_ms": 3_600_000,
        "agents_allowed": True,
        "allow_user_autostart": True,
        "allow_user_autostop": True,
        "allow_user_cancel_workspace_jobs": True,
        "autostart_requirement": {"days_of_week": ["monday", "tuesday", "wednesday", "thursday", "friday"]},
        "autostop_requirement": {"days_of_week": [], "weeks": 1},
        "build_time_stats": {
            "start": {"p50": 1000, "p95": 2000},
            "stop": {"p50": 800, "p95": 1500},
            "delete": {"p50": 900, "p95": 1800},
        },
        "cors_behavior": "simple",
        "created_at": rfc3339(template.created_at),
        "updated_at": rfc3339(template.created_at),
        "created_by_id": owner.id,
        "created_by_name": owner.username,
        "default_ttl_ms": 0,
        "deleted": False,
        "deprecated": False,
        "deprecation_message": "",
        "disable_module_cache": False,
        "failure_ttl_ms": 0,
        "max_port_share_level": "owner",
        "provisioner": "terraform",
        "require_active_version": False,
        "time_til_autostop_notify_ms": 0,
        "time_til_dormant_autodelete_ms": 0,
        "time_til_dormant_ms": 0,
        "use_classic_parameter_flow": False,
    }


def job_json(state: State, job: Job, ws: Workspace, template: Template, now: float) -> dict[str, Any]:
    status = job_status(job, now)
    started = status != "pending" or (job.cancel_requested_at is not None and job.started_at <= now)
    done = status in ("succeeded", "failed", "canceled")
    completed_at = None
    if done:
        completed_at = job.canceled_at if status == "canceled" else job.completed_at
    queued = status == "pending"
    return {
        "id": job.id,
        "status": status,
        "error": job.failure if status == "failed" else "",
        "error_code": "",
        "created_at": rfc3339(job.created_at),
        "started_at": rfc3339(job.started_at) if started else None,
        "completed_at": rfc3339(completed_at) if completed_at is not None else None,
        "canceled_at": rfc3339(job.cancel_requested_at) if job.cancel_requested_at is not None else None,
        "queue_position": 1 if queued else 0,
        "queue_size": 1 if queued else 0,
        "logs_overflowed": False,
        "file_id": ws.template_id,
        "initiator_id": ws.owner_id,
        "organization_id": ws.organization_id,
        "input": {"workspace_build_id": "", "template_version_id": template.active_version_id, "error": ""},
        "metadata": {
            "template_id": template.id,
            "template_name": template.name,
            "template_display_name": template.display_name,
            "template_icon": template.icon,
            "template_version_name": template.active_version_name,
            "workspace_id": ws.id,
            "workspace_name": ws.name,
            "workspace_build_transition": job.transition,
        },
        "tags": {"scope": "organization", "owner": ""},
        "type": "workspace_build",
        "available_workers": [],
        "worker_id": "",
        "worker_name": "",
    }


def build_json(state: State, build: Build, now: float | None = None) -> dict[str, Any]:
    if now is None:
        now = state.clock.now()
    ws = state.workspaces[build.workspace_id]
    owner = state.users[ws.owner_id]
    initiator = state.users.get(build.initiator_id, owner)
    template = state.templates[ws.template_id]
    job = job_json(state, build.job, ws, template, now)
    job["input"]["workspace_build_id"] = build.id
    status = workspace_status(build.transition, job["status"])
    running = status == "running"
    resources: list[dict[str, Any]] = []
    if running:
        resources.append(
            {
                "id": build.job.id,
                "job_id": build.job.id,
                "name": "workspace",
                "type": "docker_container",
                "workspace_transition": build.transition,
                "created_at": rfc3339(build.job.completed_at),
                "hide": False,
                "icon": "",
                "metadata": [],
                "daily_cost": 0,
                "agents": [],
            }
        )
    return {
        "id": build.id,
        "build_number": build.build_number,
        "workspace_id": ws.id,
        "workspace_name": ws.name,
        "workspace_owner_id": owner.id,
        "workspace_owner_name": owner.username,
        "workspace_owner_avatar_url": "",
        "transition": build.transition,
        "status": status,
        "reason": build.reason,
        "initiator_id": initiator.id,
        "initiator_name": initiator.username,
        "created_at": rfc3339(build.created_at),
        "updated_at": rfc3339(build.created_at),
        "deadline": rfc3339(build.job.completed_at + 8 * 3600) if running and ws.ttl_ms else None,
        "max_deadline": None,
        "job": job,
        "matched_provisioners": {"count": 1, "available": 1, "most_recently_seen": rfc3339(now)},
        "resources": resources,
        "template_version_id": build.template_version_id,
        "template_version_name": build.template_version_name,
        "template_version_preset_id": None,
        "daily_cost": 0,
        "has_ai_task": False,
        "has_external_agent": False,
    }


def workspace_json(state: State, ws: Workspace, now: float | None = None) -> dict[str, Any]:
    if now is None:
        now = state.clock.now()
    owner = state.users[ws.owner_id]
    template = state.templates[ws.template_id]
    latest = build_json(state, ws.builds[-1], now)
    deleting = latest["status"] in ("deleting", "deleted")
    return {
        "id": ws.id,
        "name": ws.name,
        "owner_id": owner.id,
        "owner_name": owner.username,
        "owner_avatar_url": "",
        "organization_id": ws.organization_id,
        "organization_name": state.default_org.name,
        "template_id": template.id,
        "template_name": template.name,
        "template_display_name": template.display_name,
        "template_icon": template.icon,
        "template_active_version_id": template.active_version_id,
        "template_allow_user_cancel_workspace_jobs": True,
        "template_require_active_version": False,
        "template_use_classic_parameter_flow": False,
        "latest_build": latest,
        "latest_app_status": None,
        "outdated": False,
        "created_at": rfc3339(ws.created_at),
        "updated_at": rfc3339(ws.updated_at),
        "last_used_at": rfc3339(ws.last_used_at),
        "ttl_ms": ws.ttl_ms,
        "autostart_schedule": ws.autostart_schedule,
        "automatic_updates": ws.automatic_updates,
        "allow_renames": False,
        "dormant_at": None,
        "deleting_at": None,
        "next_start_at": None,
        "favorite": False,
        "is_prebuild": False,
        "task_id": None,
        "shared_with": [],
        "health": {"healthy": not deleting and latest["status"] != "failed", "failing_agents": []},
    }


#: The JSON separators of every response body (``BaseHandler.send_json``).
SEPARATORS = (",", ":")
#: Stand-in for the request time inside cached bytes; spliced out on every response.
_NOW_MARK = f"now-{new_uuid()}"
_NOW_MARK_JSON = json.dumps(_NOW_MARK).encode()


def _workspace_key(state: State, ws: Workspace, now: float) -> tuple[object, ...]:
    """Everything :func:`workspace_json` reads except ``now`` itself (which only sets
    ``matched_provisioners.most_recently_seen`` and, through the job status, the rest).

    Keep this in step with :func:`workspace_json`, :func:`build_json` and :func:`job_json`.
    """
    build = ws.builds[-1]
    job = build.job
    owner = state.users[ws.owner_id]
    initiator = state.users.get(build.initiator_id, owner)
    template = state.templates[ws.template_id]
    return (
        job_status(job, now),
        build.id,
        build.build_number,
        build.transition,
        build.reason,
        build.created_at,
        build.template_version_id,
        build.template_version_name,
        initiator.id,
        initiator.username,
        job.id,
        job.created_at,
        job.started_at,
        job.completed_at,
        job.failure,
        job.transition,
        job.cancel_requested_at,
        job.canceled_at,
        ws.name,
        ws.organization_id,
        ws.created_at,
        ws.updated_at,
        ws.last_used_at,
        ws.ttl_ms,
        ws.autostart_schedule,
        ws.automatic_updates,
        owner.id,
        owner.username,
        state.default_org.name,
        template.id,
        template.name,
        template.display_name,
        template.icon,
        template.active_version_id,
        template.active_version_name,
    )


def workspace_json_parts(state: State, ws: Workspace, now: float) -> tuple[bytes, bytes]:
    """``(before, after)`` such that the serialized :func:`workspace_json` is
    ``before + json.dumps(rfc3339(now)) + after``, reused from ``state.workspace_json_cache``.

    An entry is keyed by :func:`_workspace_key`: every field the JSON is built from plus the job
    status at ``now``, so a build that moves on with the clock (``pending`` → ``running`` →
    ``succeeded``), a new build, a cancel or an edited row all yield a fresh serialization. The
    request time itself appears only as ``most_recently_seen``, so the bytes are cached with a
    marker there and kept split around it.
    """
    key = _workspace_key(state, ws, now)
    cache = state.workspace_json_cache
    entry = cache.get(ws.id)
    if entry is not None and entry[0] == key:
        return entry[1], entry[2]
    body = workspace_json(state, ws, now)
    body["latest_build"]["matched_provisioners"]["most_recently_seen"] = _NOW_MARK
    before, mark, after = json.dumps(body, separators=SEPARATORS).encode().partition(_NOW_MARK_JSON)
    assert mark, "most_recently_seen must appear in the workspace JSON"
    cache[ws.id] = (key, before, after)
    return before, after


def workspace_json_bytes(state: State, ws: Workspace, now: float) -> bytes:
    """``json.dumps(workspace_json(state, ws, now), separators=SEPARATORS)``, from the cache."""
    before, after = workspace_json_parts(state, ws, now)
    return before + json.dumps(rfc3339(now)).encode() + after


def workspaces_response(state: State, workspaces: list[Workspace], count: int, now: float) -> bytes:
    """The body of ``GET /api/v2/workspaces``: byte-for-byte ``json.dumps({"workspaces": [...],
    "count": count}, separators=SEPARATORS)`` of :func:`workspace_json`, assembled from the cache."""
    stamp = json.dumps(rfc3339(now)).encode()
    items = []
    for ws in workspaces:
        before, after = workspace_json_parts(state, ws, now)
        items.append(before + stamp + after)
    return b'{"workspaces":[' + b",".join(items) + b'],"count":' + str(count).encode() + b"}"


def log_json(line: LogLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "created_at": rfc3339(line.created_at),
        "log_source": line.log_source,
        "log_level": line.log_level,
        "stage": line.stage,
        "output": line.output,
    }


def app_json(base_url: str, app: OAuthApp) -> dict[str, Any]:
    """``codersdk.OAuth2ProviderApp``; the allowlist is displayed in canonical form."""
    return {
        "id": app.id,
        "name": app.name,
        "icon": app.icon,
        "callback_url": app.callback_url,
        "redirect_uris": list(app.redirect_uris),
        "scope": " ".join(canonical_list(app.scope)),
        "client_type": app.client_type,
        "dynamically_registered": app.dynamically_registered,
        "endpoints": {
            "authorization": f"{base_url}/oauth2/authorize",
            "token": f"{base_url}/oauth2/tokens",
            "token_revoke": f"{base_url}/oauth2/revoke",
            "device_authorization": "",
        },
    }


def buildinfo_json(state: State, base_url: str, version: str) -> dict[str, Any]:
    return {
        "version": version,
        "external_url": "https://github.com/coder/coder",
        "dashboard_url": base_url,
        "deployment_id": state.deployment_id,
        "telemetry": False,
        "workspace_proxy": False,
        "agent_api_version": "2.6",
        "provisioner_api_version": "1.9",
        "upgrade_message": "",
        "webpush_public_key": "",
    }
