"""In-memory database and clock of the fake Coder deployment.

Everything the fake knows lives in one :class:`State` object guarded by one
re-entrant lock. HTTP handlers (on the server thread) and the public Python API
(on the caller's thread) both take :attr:`State.lock` around every read-modify-write.

Time never comes from :func:`time.time` directly: it comes from :class:`Clock`,
which is real time plus an offset that tests push forward with
:meth:`Clock.advance`. Build progress, token expiry and code expiry are all
computed *lazily* from timestamps, so no background thread is needed and
advancing the clock has an immediate, deterministic effect.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import itertools
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

Generation = Literal["g1", "g2", "g3", "g4"]
Transition = Literal["start", "stop", "delete"]

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits

ACTIVE_JOB_STATUSES = frozenset({"pending", "running", "canceling"})


def random_string(length: int, alphabet: str = _ALNUM) -> str:
    """Return a cryptographically random string of ``length`` characters."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def hash_secret(value: str) -> str:
    """Hash a secret for storage (the fake never stores secrets in clear)."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(value: str, digest: str) -> bool:
    return hmac.compare_digest(hash_secret(value), digest)


def rfc3339(ts: float) -> str:
    """Format epoch seconds the way Go's ``time.Time`` marshals: ``2025-01-02T03:04:05.123456Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uuid() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def generate_prefixed_secret() -> tuple[str, str, str]:
    """Coder's ``GenerateSecret``: ``coder_<10-char prefix>_<40-char secret>``.

    Returns ``(full, prefix, secret)``. Used for client secrets, codes and refresh tokens.
    """
    prefix = random_string(10, _LOWER_ALNUM)
    secret = random_string(40, _LOWER_ALNUM)
    return f"coder_{prefix}_{secret}", prefix, secret


def parse_prefixed_secret(value: str) -> tuple[str, str] | None:
    """Split ``coder_<prefix>_<secret>``; return None if the shape is wrong."""
    parts = value.split("_")
    if len(parts) != 3 or parts[0] != "coder" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class Clock:
    """Real time plus an offset. ``advance(s)`` moves every deadline in the fake forward."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current fake time, as epoch seconds."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` (must be >= 0); returns the new fake time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()


# --------------------------------------------------------------------------- entities


@dataclass(slots=True)
class User:
    id: str
    username: str
    email: str
    name: str
    password: str
    owner: bool
    created_at: float
    status: str = "active"
    last_seen_at: float = 0.0


@dataclass(slots=True)
class Organization:
    id: str
    name: str
    display_name: str
    created_at: float


@dataclass(slots=True)
class Template:
    id: str
    name: str
    display_name: str
    description: str
    icon: str
    active_version_id: str
    active_version_name: str
    fails: bool
    created_at: float


@dataclass(slots=True)
class ApiKey:
    """A Coder API key: session token, personal API token or OAuth2 access token."""

    id: str
    secret_hash: str
    user_id: str
    login_type: str  # "password", "token" or "oauth2_provider_app"
    lifetime: float
    expires_at: float
    created_at: float
    token_name: str = ""
    app_id: str | None = None
    app_secret_id: str | None = None
    scope: str = "coder:all"


@dataclass(slots=True)
class RefreshToken:
    prefix: str
    secret_hash: str
    key_id: str
    app_id: str
    user_id: str
    expires_at: float
    scope: str


@dataclass(slots=True)
class AuthCode:
    prefix: str
    secret_hash: str
    app_id: str
    user_id: str
    expires_at: float
    code_challenge: str
    code_challenge_method: str
    redirect_uri: str
    resource: str
    scope: str


@dataclass(slots=True)
class AppSecret:
    id: str
    prefix: str
    secret_hash: str
    created_at: float
    last_used_at: float | None = None
    tail: str = ""  # last 6 characters, shown as ``client_secret_truncated``


@dataclass(slots=True)
class OAuthApp:
    id: str
    name: str
    icon: str
    callback_url: str
    redirect_uris: list[str]
    client_type: str  # "confidential" or "public"
    dynamically_registered: bool
    created_at: float
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name
    scope: str = ""
    metadata: dict[str, object] = field(default_factory=dict)
    registration_token_hash: str = ""
    secrets: dict[str, AppSecret] = field(default_factory=dict)


@dataclass(slots=True)
class LogLine:
    id: int
    created_at: float
    log_source: str
    log_level: str
    stage: str
    output: str


@dataclass(slots=True)
class Job:
    id: str
    created_at: float
    started_at: float
    completed_at: float
    failure: str  # job error if this job is going to fail, else ""
    transition: str = "start"
    cancel_requested_at: float | None = None
    canceled_at: float | None = None
    logs: list[LogLine] | None = None


@dataclass(slots=True)
class Build:
    id: str
    workspace_id: str
    build_number: int
    transition: str
    reason: str
    initiator_id: str
    created_at: float
    job: Job
    template_version_id: str
    template_version_name: str


@dataclass(slots=True)
class Workspace:
    id: str
    name: str
    owner_id: str
    organization_id: str
    template_id: str
    created_at: float
    updated_at: float
    last_used_at: float
    ttl_ms: int | None
    autostart_schedule: str | None
    automatic_updates: str
    builds: list[Build] = field(default_factory=list)

    @property
    def latest_build(self) -> Build:
        return self.builds[-1]


# --------------------------------------------------------------------------- build progress


def job_status(job: Job, now: float) -> str:
    """Provisioner job status at ``now``, computed from the job's timestamps."""
    if job.cancel_requested_at is not None:
        assert job.canceled_at is not None
        return "canceled" if now >= job.canceled_at else "canceling"
    if now < job.started_at:
        return "pending"
    if now < job.completed_at:
        return "running"
    return "failed" if job.failure else "succeeded"


_IN_PROGRESS = {"start": "starting", "stop": "stopping", "delete": "deleting"}
_DONE = {"start": "running", "stop": "stopped", "delete": "deleted"}


def workspace_status(transition: str, status_of_job: str) -> str:
    """§8 mapping from (transition, job status) to workspace/build status."""
    if status_of_job == "running":
        return _IN_PROGRESS[transition]
    if status_of_job == "succeeded":
        return _DONE[transition]
    return status_of_job  # pending, failed, canceling, canceled


# --------------------------------------------------------------------------- the store


class State:
    """All data of one fake deployment. Take :attr:`lock` around every access."""

    def __init__(self, *, clock: Clock, build_step_seconds: float) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.build_step_seconds = build_step_seconds
        self.deployment_id = new_uuid()
        self.csrf_key = secrets.token_bytes(32)
        self.users: dict[str, User] = {}
        self.users_by_name: dict[str, User] = {}
        self.orgs: dict[str, Organization] = {}
        self.templates: dict[str, Template] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.builds: dict[str, Build] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.apps: dict[str, OAuthApp] = {}
        self._log_ids = itertools.count(1)
        # Listing indexes: sorted (owner, name, id) keys, globally and per owner.
        self._ws_sorted: list[tuple[str, str, str]] = []
        self._ws_by_owner: dict[str, list[tuple[str, str, str]]] = {}
        self._ws_by_name: dict[tuple[str, str], str] = {}
        # Workspaces whose latest build is a delete (the only ones a listing may have to hide).
        self._ws_deleting: set[str] = set()
        #: Serialized workspace JSON by workspace id: ``(inputs, before, after)``; owned by
        #: ``_serialize.workspace_json_parts``, which checks ``inputs`` on every use.
        self.workspace_json_cache: dict[str, tuple[tuple[object, ...], bytes, bytes]] = {}
        now = clock.now()
        org = Organization(new_uuid(), "coder", "Coder", now)
        self.orgs[org.id] = org
        self.default_org = org

    # ------------------------------------------------------------------ users & keys

    def add_user(
        self, username: str, password: str, *, email: str | None = None, owner: bool = False
    ) -> User:
        if username.lower() in self.users_by_name:
            raise ValueError(f"user {username!r} already exists")
        now = self.clock.now()
        user = User(
            id=new_uuid(),
            username=username,
            email=email or f"{username}@coder.test",
            name=username.replace("-", " ").title(),
            password=password,
            owner=owner,
            created_at=now,
            last_seen_at=now,
        )
        self.users[user.id] = user
        self.users_by_name[username.lower()] = user
        self._ws_by_owner[user.id] = []
        return user

    def find_user(self, ref: str) -> User | None:
        """Look a user up by UUID, username (case-insensitive) or email."""
        user = self.users.get(ref) or self.users_by_name.get(ref.lower())
        if user is None:
            user = next((u for u in self.users.values() if u.email.lower() == ref.lower()), None)
        return user

    def issue_api_key(
        self,
        user: User,
        *,
        lifetime: float,
        login_type: str,
        token_name: str = "",
        app_id: str | None = None,
        app_secret_id: str | None = None,
        scope: str = "coder:all",
    ) -> tuple[str, ApiKey]:
        """Mint a ``<10>-<22>`` API key; returns ``(token, key)``."""
        key_id = random_string(10)
        secret = random_string(22)
        now = self.clock.now()
        key = ApiKey(
            id=key_id,
            secret_hash=hash_secret(secret),
            user_id=user.id,
            login_type=login_type,
            lifetime=lifetime,
            expires_at=now + lifetime,
            created_at=now,
            token_name=token_name,
            app_id=app_id,
            app_secret_id=app_secret_id,
            scope=scope,
        )
        self.api_keys[key_id] = key
        return f"{key_id}-{secret}", key

    def delete_api_key(self, key_id: str) -> None:
        """Delete a key; like Coder's FK cascade this also deletes its refresh token."""
        self.api_keys.pop(key_id, None)
        for prefix in [p for p, r in self.refresh_tokens.items() if r.key_id == key_id]:
            del self.refresh_tokens[prefix]

    def delete_app_tokens(self, app_id: str, user_id: str | None = None) -> None:
        """Delete every key and code issued for ``app_id`` (optionally only for one user)."""
        for key in list(self.api_keys.values()):
            if key.app_id == app_id and (user_id is None or key.user_id == user_id):
                self.delete_api_key(key.id)
        for prefix in [
            p
            for p, c in self.codes.items()
            if c.app_id == app_id and (user_id is None or c.user_id == user_id)
        ]:
            del self.codes[prefix]

    def delete_app(self, app_id: str) -> None:
        self.delete_app_tokens(app_id)
        self.apps.pop(app_id, None)

    # ------------------------------------------------------------------ templates

    def add_template(
        self, name: str, *, display_name: str, description: str, icon: str, fails: bool
    ) -> Template:
        now = self.clock.now()
        template = Template(
            id=new_uuid(),
            name=name,
            display_name=display_name,
            description=description,
            icon=icon,
            active_version_id=new_uuid(),
            active_version_name=f"{name}-v1",
            fails=fails,
            created_at=now,
        )
        self.templates[template.id] = template
        return template

    def find_template(self, ref: str) -> Template | None:
        template = self.templates.get(ref)
        if template is None:
            template = next((t for t in self.templates.values() if t.name.lower() == ref.lower()), None)
        return template

    # ------------------------------------------------------------------ workspaces & builds

    def workspace_is_deleted(self, ws: Workspace, now: float) -> bool:
        build = ws.builds[-1]
        return build.transition == "delete" and job_status(build.job, now) == "succeeded"

    def find_workspace_by_name(self, owner_id: str, name: str) -> Workspace | None:
        ws_id = self._ws_by_name.get((owner_id, name.lower()))
        if ws_id is None:
            return None
        ws = self.workspaces[ws_id]
        return None if self.workspace_is_deleted(ws, self.clock.now()) else ws

    def add_workspace(
        self,
        owner: User,
        name: str,
        template: Template,
        *,
        ttl_ms: int | None = None,
        autostart_schedule: str | None = None,
        automatic_updates: str = "never",
        completed: bool = False,
        transition: str = "start",
    ) -> Workspace:
        """Create a workspace and its first build.

        With ``completed=True`` the first build is already finished (used for seeding
        large numbers of workspaces instantly); otherwise it runs on the fake clock.
        """
        now = self.clock.now()
        ws = Workspace(
            id=new_uuid(),
            name=name,
            owner_id=owner.id,
            organization_id=self.default_org.id,
            template_id=template.id,
            created_at=now,
            updated_at=now,
            last_used_at=now,
            ttl_ms=ttl_ms,
            autostart_schedule=autostart_schedule,
            automatic_updates=automatic_updates,
        )
        self.workspaces[ws.id] = ws
        key = (owner.username.lower(), name.lower(), ws.id)
        bisect.insort(self._ws_sorted, key)
        bisect.insort(self._ws_by_owner[owner.id], key)
        self._ws_by_name[(owner.id, name.lower())] = ws.id
        self.add_build(ws, transition, owner, completed=completed)
        return ws

    def add_build(self, ws: Workspace, transition: str, initiator: User, *, completed: bool = False) -> Build:
        now = self.clock.now()
        step = self.build_step_seconds
        template = self.templates[ws.template_id]
        if completed:
            created, started, done = now - 4 * step, now - 3 * step, now
        else:
            created, started, done = now, now + step, now + 4 * step
        failure = ""
        if template.fails and transition == "start":
            failure = 'terraform apply: exit status 1: Error: image "broken:latest" not found'
        job = Job(
            id=new_uuid(),
            created_at=created,
            started_at=started,
            completed_at=done,
            failure=failure,
            transition=transition,
        )
        build = Build(
            id=new_uuid(),
            workspace_id=ws.id,
            build_number=len(ws.builds) + 1,
            transition=transition,
            reason="initiator",
            initiator_id=initiator.id,
            created_at=created,
            job=job,
            template_version_id=template.active_version_id,
            template_version_name=template.active_version_name,
        )
        ws.builds.append(build)
        if transition == "delete":
            self._ws_deleting.add(ws.id)
        else:
            self._ws_deleting.discard(ws.id)
        ws.updated_at = now
        self.builds[build.id] = build
        return build

    def cancel_job(self, job: Job) -> None:
        now = self.clock.now()
        status = job_status(job, now)
        logs = self.job_logs(job)
        del logs[len([line for line in logs if line.created_at <= now]) :]
        job.cancel_requested_at = now
        job.canceled_at = now if status == "pending" else now + self.build_step_seconds
        logs.append(
            LogLine(next(self._log_ids), now, "provisioner_daemon", "info", "Canceling", "Job canceled")
        )

    def job_logs(self, job: Job) -> list[LogLine]:
        """All logs of a job (some may be in the future); generated on first use."""
        if job.logs is None:
            verb = {
                "start": "Starting workspace",
                "stop": "Stopping workspace",
                "delete": "Destroying workspace",
            }
            stage = verb[job.transition]
            step = (job.completed_at - job.started_at) / 3
            t = job.started_at
            lines = [
                (t, "provisioner_daemon", "info", "Setting up", ""),
                (t + step * 0.5, "provisioner", "info", "Planning infrastructure", "Terraform 1.9.8"),
                (t + step, "provisioner", "info", "Planning infrastructure", "Plan: 1 to add, 0 to change."),
            ]
            if job.failure:
                lines += [
                    (t + step * 1.5, "provisioner", "info", stage, "docker_image.main: Creating..."),
                    (t + step * 2, "provisioner", "error", stage, 'Error: image "broken:latest" not found'),
                    (job.completed_at, "provisioner_daemon", "error", "Cleaning Up", job.failure),
                ]
            else:
                lines += [
                    (
                        t + step * 1.5,
                        "provisioner",
                        "info",
                        stage,
                        "docker_container.workspace[0]: Creating...",
                    ),
                    (
                        t + step * 2,
                        "provisioner",
                        "info",
                        stage,
                        "docker_container.workspace[0]: Creation complete",
                    ),
                    (job.completed_at, "provisioner_daemon", "info", "Cleaning Up", ""),
                ]
            job.logs = [LogLine(next(self._log_ids), *line) for line in lines]
        return job.logs

    def list_workspaces(
        self,
        *,
        owner_id: str | None,
        predicate: object = None,
    ) -> list[Workspace]:
        """Workspaces in Coder's listing order (owner, then name), deleted ones left out."""
        now = self.clock.now()
        keys = self._ws_sorted if owner_id is None else self._ws_by_owner.get(owner_id, [])
        out: list[Workspace] = []
        workspaces = self.workspaces
        for _, _, ws_id in keys:
            ws = workspaces[ws_id]
            build = ws.builds[-1]
            if build.transition == "delete" and job_status(build.job, now) == "succeeded":
                continue
            if predicate is None or predicate(ws, now):  # type: ignore[operator]
                out.append(ws)
        return out

    def list_workspace_page(
        self, *, owner_id: str | None, offset: int, limit: int
    ) -> tuple[list[Workspace], int]:
        """``(page, total)`` of the unfiltered listing: what ``list_workspaces(...)[offset:offset+limit]``
        and its length give (``limit=0``: no limit), without visiting every workspace per page."""
        now = self.clock.now()
        keys = self._ws_sorted if owner_id is None else self._ws_by_owner.get(owner_id, [])
        workspaces = self.workspaces
        gone: set[str] = set()
        for ws_id in self._ws_deleting:
            ws = workspaces[ws_id]
            if (owner_id is None or ws.owner_id == owner_id) and self.workspace_is_deleted(ws, now):
                gone.add(ws_id)
        if gone:
            keys = [k for k in keys if k[2] not in gone]
        end = offset + limit if limit else len(keys)
        return [workspaces[k[2]] for k in keys[offset:end]], len(keys)
