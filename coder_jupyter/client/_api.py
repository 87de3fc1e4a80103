"""Every Coder API call, written once as a flow shared by :class:`Coder` and :class:`AsyncCoder`.

A flow is a ``Generator[httpx.Request, httpx.Response, T]``: it builds the request, yields it,
gets the response back, maps errors (:func:`~coder_jupyter._transport.raise_for_status`) and
decodes the body into models. :func:`~coder_jupyter._transport.drive` and ``adrive`` do the
I/O, so the sync and async clients share all of this and differ only in how they wait.

Paths and shapes: ``CODER_BEHAVIOR.md`` §8 and ``swagger.json`` (``codersdk.*``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from .._oauth.responses import printable
from .._transport import Flow, raise_for_status, unexpected_response
from ..errors import UnexpectedResponseError
from .models import (
    BuildInfo,
    CoderModel,
    Organization,
    ProvisionerJobLog,
    Template,
    User,
    Workspace,
    WorkspaceBuild,
    attach,
)

__all__ = ["Api", "WorkspacesPage", "is_uuid"]

M = TypeVar("M", bound=CoderModel)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ACCEPT = {"Accept": "application/json"}


def is_uuid(value: str) -> bool:
    """``True`` for a UUID string (how Coder ids look)."""
    return bool(_UUID.match(value))


class _RawPage(msgspec.Struct):
    # Items stay raw bytes here; each is decoded on its own so it can keep its exact JSON.
    workspaces: list[msgspec.Raw] = msgspec.field(default_factory=list)
    count: int = 0


class WorkspacesPage(msgspec.Struct):
    """One page of ``GET /api/v2/workspaces``: ``count`` is the total matching, not the page size."""

    workspaces: list[Workspace]
    count: int
    offset: int


_raw_page = msgspec.json.Decoder(_RawPage)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(cls: type[M]) -> msgspec.json.Decoder[M]:
    dec = _decoders.get(cls)
    if dec is None:
        dec = _decoders[cls] = msgspec.json.Decoder(cls)
    return dec


class Api:
    """Builds the flows for one deployment.

    Args:
        base_url: the deployment URL without a trailing slash, e.g. ``https://coder.example.com``.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    # -- plumbing -------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> httpx.Request:
        return httpx.Request(method, self.base_url + path, params=params, json=json, headers=_ACCEPT)

    def _check(self, response: httpx.Response, what: str | None = None) -> None:
        raise_for_status(response, what=what, deployment_url=self.base_url)

    def _one(self, cls: type[M], content: bytes, response: httpx.Response | None = None) -> M:
        try:
            return attach(_decoder(cls).decode(content), content, self.base_url)
        except msgspec.DecodeError as exc:
            raise _bad_body(cls, exc, response) from None

    def _many(self, cls: type[M], content: bytes, response: httpx.Response | None = None) -> list[M]:
        dec, base = _decoder(cls), self.base_url
        try:
            return [attach(dec.decode(item), item, base) for item in _raw_list.decode(content)]
        except msgspec.DecodeError as exc:
            raise _bad_body(cls, exc, response) from None

    def get_one(self, cls: type[M], path: str, *, what: str | None = None,
                params: Mapping[str, Any] | None = None) -> Flow[M]:
        """``GET path`` → one ``cls``."""
        response = yield self._request("GET", path, params=params)
        self._check(response, what)
        return self._one(cls, response.content, response)

    def get_many(self, cls: type[M], path: str, *, what: str | None = None,
                 params: Mapping[str, Any] | None = None) -> Flow[list[M]]:
        """``GET path`` → a JSON array of ``cls``."""
        response = yield self._request("GET", path, params=params)
        self._check(response, what)
        return self._many(cls, response.content, response)

    # -- queries --------------------------------------------------------------------------------

    def buildinfo(self) -> Flow[BuildInfo]:
        """``GET /api/v2/buildinfo`` (no login needed)."""
        return self.get_one(BuildInfo, "/api/v2/buildinfo")

    def user(self, user: str = "me") -> Flow[User]:
        """``GET /api/v2/users/{user}`` (an id, a username or ``me``)."""
        return self.get_one(User, f"/api/v2/users/{_seg(user)}", what=f'user "{user}"')

    def organizations(self, user: str = "me") -> Flow[list[Organization]]:
        """``GET /api/v2/users/{user}/organizations``."""
        return self.get_many(Organization, f"/api/v2/users/{_seg(user)}/organizations", what=f'user "{user}"')

    def templates(self, organization: str | None = None) -> Flow[list[Template]]:
        """``GET /api/v2/templates``, or one organization's templates."""
        if organization is None:
            return self.get_many(Template, "/api/v2/templates")
        return self.get_many(
            Template, f"/api/v2/organizations/{_seg(organization)}/templates",
            what=f'organization "{organization}"',
        )

    def workspaces_page(self, query: str, offset: int, limit: int) -> Flow[WorkspacesPage]:
        """``GET /api/v2/workspaces?q=&offset=&limit=``: one page (``limit=0`` means no limit)."""
        params: dict[str, Any] = {"q": query, "offset": offset} if query else {"offset": offset}
        if limit:
            params["limit"] = limit
        response = yield self._request("GET", "/api/v2/workspaces", params=params)
        self._check(response)
        return self.decode_workspaces_page(response.content, offset, response)

    def decode_workspaces_page(self, content: bytes, offset: int = 0,
                               response: httpx.Response | None = None) -> WorkspacesPage:
        """Decode a ``WorkspacesResponse`` body: typed workspaces that keep their raw JSON.

        Raises:
            UnexpectedResponseError: the body is not a ``WorkspacesResponse`` (``response``, when
                given, names the request in the message).
        """
        dec, base = _decoder(Workspace), self.base_url
        try:
            raw = _raw_page.decode(content)
            items = [attach(dec.decode(item), item, base) for item in raw.workspaces]
        except msgspec.DecodeError as exc:
            raise _bad_body(Workspace, exc, response) from None
        return WorkspacesPage(items, raw.count, offset)

    def workspace(self, ref: str, *, include_deleted: bool = False) -> Flow[Workspace]:
        """One workspace by id, ``owner/name`` or ``name`` (yours)."""
        params = {"include_deleted": "true"} if include_deleted else None
        if is_uuid(ref):
            return self.get_one(Workspace, f"/api/v2/workspaces/{ref}", what=f"workspace {ref}",
                                params=params)
        owner, _, name = ref.rpartition("/")
        owner = owner or "me"
        return self.get_one(
            Workspace, f"/api/v2/users/{_seg(owner)}/workspace/{_seg(name)}",
            what=f'workspace "{ref}"', params=params,
        )

    def build(self, build_id: str) -> Flow[WorkspaceBuild]:
        """``GET /api/v2/workspacebuilds/{id}``."""
        return self.get_one(WorkspaceBuild, f"/api/v2/workspacebuilds/{_seg(build_id)}",
                            what=f"workspace build {build_id}")

    def build_logs(self, build_id: str, *, after: int = 0) -> Flow[list[ProvisionerJobLog]]:
        """``GET /api/v2/workspacebuilds/{id}/logs?after=<log id>`` (the JSON form, not the WebSocket)."""
        params = {"after": after} if after else None
        return self.get_many(ProvisionerJobLog, f"/api/v2/workspacebuilds/{_seg(build_id)}/logs",
                             what=f"workspace build {build_id}", params=params)

    # -- actions --------------------------------------------------------------------------------

    def create_workspace(
        self,
        name: str,
        *,
        template_id: str | None = None,
        template_version_id: str | None = None,
        owner: str = "me",
        parameters: Mapping[str, str] | None = None,
        ttl_ms: int | None = None,
        autostart_schedule: str | None = None,
    ) -> Flow[Workspace]:
        """``POST /api/v2/users/{owner}/workspaces`` → 201 ``Workspace`` (its first build started)."""
        body: dict[str, Any] = {"name": name}
        if template_version_id:
            body["template_version_id"] = template_version_id
        else:
            body["template_id"] = template_id
        if parameters:
            body["rich_parameter_values"] = _parameter_values(parameters)
        if ttl_ms is not None:
            body["ttl_ms"] = ttl_ms
        if autostart_schedule is not None:
            body["autostart_schedule"] = autostart_schedule
        response = yield self._request("POST", f"/api/v2/users/{_seg(owner)}/workspaces", json=body)
        self._check(response, f'user "{owner}"')
        return self._one(Workspace, response.content, response)

    def create_build(
        self,
        workspace_id: str,
        transition: str,
        *,
        what: str | None = None,
        parameters: Mapping[str, str] | None = None,
        template_version_id: str | None = None,
        reason: str | None = None,
    ) -> Flow[WorkspaceBuild]:
        """``POST /api/v2/workspaces/{id}/builds {transition}`` → 201 ``WorkspaceBuild``."""
        body: dict[str, Any] = {"transition": transition}
        if parameters:
            body["rich_parameter_values"] = _parameter_values(parameters)
        if template_version_id:
            body["template_version_id"] = template_version_id
        if reason:
            body["reason"] = reason
        response = yield self._request("POST", f"/api/v2/workspaces/{_seg(workspace_id)}/builds", json=body)
        self._check(response, what or f"workspace {workspace_id}")
        return self._one(WorkspaceBuild, response.content, response)

    def cancel_build(self, build_id: str) -> Flow[None]:
        """``PATCH /api/v2/workspacebuilds/{id}/cancel``."""
        response = yield self._request("PATCH", f"/api/v2/workspacebuilds/{_seg(build_id)}/cancel")
        self._check(response, f"workspace build {build_id}")
        return None


def _seg(value: str) -> str:
    """One URL path segment, percent-encoded (a name can never reach another route)."""
    return quote(value, safe="")


def _bad_body(cls: type[Any], exc: msgspec.DecodeError, response: httpx.Response | None) -> Exception:
    """A body that is not the JSON ``cls`` needs: a typed error, never msgspec's own."""
    if isinstance(exc, msgspec.ValidationError):
        why = (f"Coder sent a {cls.__name__} this client cannot read ({printable(exc, 200)}). "
               "The deployment may be much newer or older than this coder_jupyter; please report it")
    else:
        why = f"the body is not valid JSON for a {cls.__name__} (truncated, or not JSON at all)"
    if response is None:
        return UnexpectedResponseError(f"{why}.", method="", url="", status=0, content_type="")
    return unexpected_response(response, why)


def template_ids(templates: Sequence[Template], ref: str) -> Template | None:
    """The template whose id, name or display name is ``ref``."""
    for t in templates:
        if ref in (t.id, t.name):
            return t
    for t in templates:
        if ref == t.display_name:
            return t
    return None


def _parameter_values(parameters: Mapping[str, str]) -> list[dict[str, str]]:
    """Template parameters as Coder's ``rich_parameter_values``."""
    return [{"name": k, "value": str(v)} for k, v in parameters.items()]
