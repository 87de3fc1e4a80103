"""Typed models of what a notebook needs from Coder, named after Coder's JSON (``codersdk.*``).

**Why msgspec.** A ``msgspec.Struct`` is decoded straight from the response bytes, validated
against the annotations, by C code that skips fields it does not know without building Python
objects for them. Decoding a 10 000-workspace listing this way is *faster* than ``json.loads``
of the same bytes (see ``benchmarks/bench_client.py``), where dataclasses or pydantic built
from ``json.loads`` output would cost the parse plus a validation pass. Timestamps decode to
timezone-aware :class:`~datetime.datetime` natively (C code: about 0.2 µs more per timestamp
than keeping strings, measured; worth it for sorting, arithmetic and DataFrames).

**Unknown fields are kept.** Newer Coder versions add fields; they are never an error. Every
model remembers the exact JSON it came from: :attr:`CoderModel.raw` is that object as a
``dict`` (decoded lazily, on first access) and ``model["some_new_field"]`` reads any field,
known or not. Every field has a default, so an older Coder that lacks one still decodes.

Models are plain data: they hold no client and no secret, so their ``repr`` and HTML are safe
to show and to keep in a saved notebook.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

import msgspec

from ._html import (
    build_html,
    buildinfo_html,
    organization_html,
    template_html,
    user_html,
    workspace_html,
)

__all__ = [
    "BuildInfo",
    "BuildStatus",
    "CoderModel",
    "Organization",
    "ProvisionerJob",
    "ProvisionerJobLog",
    "Role",
    "Template",
    "Transition",
    "User",
    "Workspace",
    "WorkspaceBuild",
    "WorkspaceHealth",
]

M = TypeVar("M", bound="CoderModel")

#: ``codersdk.WorkspaceStatus`` (also the build's ``status``).
BuildStatus = Literal[
    "pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting",
    "deleted",
]
#: ``codersdk.WorkspaceTransition``.
Transition = Literal["start", "stop", "delete"]

#: Build statuses after which nothing more happens.
TERMINAL_STATUSES = frozenset({"running", "stopped", "failed", "canceled", "deleted"})
#: Terminal statuses that mean the build did not do what was asked.
FAILED_STATUSES = frozenset({"failed", "canceled"})


class CoderModel(msgspec.Struct, kw_only=True, dict=True):
    """Base of every model: typed known fields plus the raw JSON for everything else.

    ``dict=True`` lets an instance carry two private attributes set after decoding: ``_raw``
    (the JSON bytes of this object) and ``_base_url`` (the deployment, for dashboard links).
    """

    _html: ClassVar[Any] = None

    @property
    def raw(self) -> dict[str, Any]:
        """The complete JSON object as Coder sent it, including fields this version does not model."""
        cached = self.__dict__.get("_raw_dict")
        if cached is None:
            data = self.__dict__.get("_raw")
            cached = msgspec.json.decode(data) if data is not None else msgspec.to_builtins(self)
            self.__dict__["_raw_dict"] = cached
        return cached  # type: ignore[no-any-return]

    def __getitem__(self, name: str) -> Any:
        """Any field of the JSON by name, e.g. ``workspace["next_start_at"]`` (``KeyError`` if absent)."""
        return self.raw[name]

    def to_dict(self) -> dict[str, Any]:
        """The raw JSON object (a copy), unknown fields included."""
        return dict(self.raw)

    @property
    def base_url(self) -> str | None:
        """The deployment this came from (set by the client), for dashboard links."""
        return self.__dict__.get("_base_url")

    def _repr_html_(self) -> str:
        renderer = type(self)._html
        if renderer is None:
            return f"<code>{_escape(repr(self))}</code>"
        return renderer(self)  # type: ignore[no-any-return]


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def attach(model: M, raw: bytes | None, base_url: str | None) -> M:
    """Remember ``raw`` JSON bytes and the deployment URL on a freshly decoded model."""
    d = model.__dict__
    if raw is not None:
        d["_raw"] = raw
    if base_url is not None:
        d["_base_url"] = base_url
    return model


# --------------------------------------------------------------------------- users & orgs


class Role(CoderModel):
    """``codersdk.SlimRole``."""

    name: str = ""
    display_name: str = ""
    organization_id: str = ""


class User(CoderModel):
    """``codersdk.User``: who you are (``coder.me()``)."""

    id: str = ""
    username: str = ""
    name: str = ""
    email: str = ""
    avatar_url: str = ""
    status: str = ""
    login_type: str = ""
    roles: list[Role] = msgspec.field(default_factory=list)
    organization_ids: list[str] = msgspec.field(default_factory=list)
    created_at: datetime | None = None
    last_seen_at: datetime | None = None

    def __repr__(self) -> str:
        return f"User({self.username!r}, email={self.email!r}, status={self.status!r})"

    _html = staticmethod(user_html)


class Organization(CoderModel):
    """``codersdk.Organization``."""

    id: str = ""
    name: str = ""
    display_name: str = ""
    description: str = ""
    icon: str = ""
    is_default: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Organization({self.name!r}, default={self.is_default})"

    _html = staticmethod(organization_html)


# --------------------------------------------------------------------------- templates


class Template(CoderModel):
    """``codersdk.Template``: what a workspace is built from."""

    id: str = ""
    name: str = ""
    display_name: str = ""
    description: str = ""
    icon: str = ""
    organization_id: str = ""
    organization_name: str = ""
    active_version_id: str = ""
    active_user_count: int = 0
    deprecated: bool = False
    deprecation_message: str = ""
    default_ttl_ms: int = 0
    provisioner: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Template({self.name!r}, display_name={self.display_name!r})"

    _html = staticmethod(template_html)


# --------------------------------------------------------------------------- builds


class ProvisionerJob(CoderModel):
    """``codersdk.ProvisionerJob``: the job that runs a build."""

    id: str = ""
    status: str = ""
    error: str = ""
    error_code: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    queue_position: int = 0
    queue_size: int = 0

    def __repr__(self) -> str:
        return f"ProvisionerJob({self.id!r}, status={self.status!r})"


class WorkspaceBuild(CoderModel):
    """``codersdk.WorkspaceBuild``: one start/stop/delete of a workspace."""

    id: str = ""
    build_number: int = 0
    workspace_id: str = ""
    workspace_name: str = ""
    workspace_owner_id: str = ""
    workspace_owner_name: str = ""
    transition: str = ""
    status: str = ""
    reason: str = ""
    initiator_name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deadline: datetime | None = None
    max_deadline: datetime | None = None
    job: ProvisionerJob = msgspec.field(default_factory=ProvisionerJob)
    template_version_id: str = ""
    template_version_name: str = ""
    daily_cost: int = 0

    @property
    def done(self) -> bool:
        """``True`` once the build reached a final status (running, stopped, failed, ...)."""
        return self.status in TERMINAL_STATUSES and self.job.status not in ("pending", "running", "canceling")

    @property
    def failed(self) -> bool:
        """``True`` when the build ended ``failed`` or ``canceled``."""
        return self.status in FAILED_STATUSES

    @property
    def workspace_full_name(self) -> str:
        """``owner/name`` of the workspace."""
        return f"{self.workspace_owner_name}/{self.workspace_name}"

    def __repr__(self) -> str:
        return (
            f"WorkspaceBuild({self.workspace_full_name!r} #{self.build_number}, "
            f"transition={self.transition!r}, status={self.status!r})"
        )

    _html = staticmethod(build_html)


class ProvisionerJobLog(CoderModel):
    """``codersdk.ProvisionerJobLog``: one line of a build's log."""

    id: int = 0
    created_at: datetime | None = None
    log_source: str = ""
    log_level: str = ""
    stage: str = ""
    output: str = ""

    def __str__(self) -> str:
        return f"[{self.stage}] {self.output}" if self.stage else self.output

    def __repr__(self) -> str:
        return f"ProvisionerJobLog({self.id}, {self.log_level!r}, {self.output!r})"


# --------------------------------------------------------------------------- workspaces


class WorkspaceHealth(CoderModel):
    """``codersdk.WorkspaceHealth``."""

    healthy: bool = True
    failing_agents: list[str] = msgspec.field(default_factory=list)


class Workspace(CoderModel):
    """``codersdk.Workspace``. Its :attr:`status` is the status of its latest build."""

    id: str = ""
    name: str = ""
    owner_id: str = ""
    owner_name: str = ""
    organization_id: str = ""
    organization_name: str = ""
    template_id: str = ""
    template_name: str = ""
    template_display_name: str = ""
    template_icon: str = ""
    template_active_version_id: str = ""
    latest_build: WorkspaceBuild = msgspec.field(default_factory=WorkspaceBuild)
    outdated: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_used_at: datetime | None = None
    ttl_ms: int | None = None
    autostart_schedule: str | None = None
    automatic_updates: str = ""
    dormant_at: datetime | None = None
    deleting_at: datetime | None = None
    favorite: bool = False
    health: WorkspaceHealth = msgspec.field(default_factory=WorkspaceHealth)

    @property
    def status(self) -> str:
        """``running``, ``stopped``, ``starting``, ``failed``, ... (the latest build's status)."""
        return self.latest_build.status

    @property
    def full_name(self) -> str:
        """``owner/name``, the form ``coder.workspace()`` and the Coder CLI accept."""
        return f"{self.owner_name}/{self.name}"

    @property
    def dashboard_url(self) -> str | None:
        """The workspace's page in the Coder dashboard (``<url>/@owner/name``)."""
        return f"{self.base_url}/@{self.owner_name}/{self.name}" if self.base_url else None

    def __repr__(self) -> str:
        return f"Workspace({self.full_name!r}, status={self.status!r}, template={self.template_name!r})"

    _html = staticmethod(workspace_html)


class BuildInfo(CoderModel):
    """``codersdk.BuildInfoResponse``: the deployment's version (no login needed)."""

    version: str = ""
    external_url: str = ""
    dashboard_url: str = ""
    deployment_id: str = ""
    telemetry: bool = False
    workspace_proxy: bool = False
    agent_api_version: str = ""
    provisioner_api_version: str = ""
    upgrade_message: str = ""

    def __repr__(self) -> str:
        return f"BuildInfo(version={self.version!r}, dashboard_url={self.dashboard_url!r})"

    _html = staticmethod(buildinfo_html)
