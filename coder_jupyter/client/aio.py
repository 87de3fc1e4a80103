"""The asynchronous client, :class:`AsyncCoder`: :class:`~coder_jupyter.client.Coder`'s twin for ``await``.

Same methods, same arguments, same results; the API calls themselves are the shared flows of
:mod:`._api`/:mod:`._base`, driven by :func:`~coder_jupyter._transport.adrive`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

import httpx

from .._transport import Flow, adrive
from ._base import BuildWatch, CoderBase, WorkspaceRef, merge_pages, next_offset, plan_offsets
from ._lists import TemplateList, WorkspaceList
from ._progress import make_progress
from .models import BuildInfo, Organization, ProvisionerJobLog, Template, User, Workspace, WorkspaceBuild

__all__ = ["AsyncCoder"]

T = TypeVar("T")


class AsyncCoder(CoderBase):
    """Async twin of :class:`~coder_jupyter.client.Coder`::

        async with AsyncCoder("https://coder.example.com") as coder:
            me = await coder.me()
            async for ws in coder.iter_workspaces("owner:me"):
                ...
            await coder.start("dev")

    Arguments, errors and results are those of :class:`~coder_jupyter.client.Coder`. One
    :class:`httpx.AsyncClient` is reused; close it with :meth:`aclose` or ``async with``.
    """

    _client: httpx.AsyncClient

    def _open_client(self) -> httpx.AsyncClient:
        return self._conn.make_async_client()

    async def _run(self, flow: Flow[T]) -> T:
        return await adrive(flow, self._client, retry=self.retry)

    # -- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncCoder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- queries --------------------------------------------------------------------------------

    async def buildinfo(self) -> BuildInfo:
        """The deployment's version and dashboard URL (works without logging in)."""
        return await self._run(self._api.buildinfo())

    async def me(self) -> User:
        """The logged-in user."""
        return await self._run(self._api.user("me"))

    async def user(self, user: str) -> User:
        """A user by id or username."""
        return await self._run(self._api.user(user))

    async def organizations(self) -> list[Organization]:
        """The organizations you belong to."""
        return await self._run(self._api.organizations())

    async def templates(self, organization: str | None = None) -> TemplateList:
        """Templates you can build workspaces from (optionally of one organization)."""
        return TemplateList(await self._run(self._api.templates(organization)))

    async def template(self, ref: str) -> Template:
        """A template by id, name or display name."""
        template_id = await self._run(self._template_flow(ref))
        return next(t for t in await self.templates() if t.id == template_id)

    async def workspaces(self, query: str = "owner:me", *, limit: int | None = None) -> WorkspaceList:
        """All workspaces matching ``query``; later pages fetched concurrently (see ``Coder.workspaces``)."""
        size = self.page_size if limit is None else min(self.page_size, limit)
        first = await self._run(self._api.workspaces_page(query, 0, size))
        offsets = plan_offsets(first.count, len(first.workspaces), size, limit)
        pages = [first]
        if offsets:
            gate = asyncio.Semaphore(self.concurrency)

            async def fetch(offset: int) -> Any:
                async with gate:
                    return await self._run(self._api.workspaces_page(query, offset, size))

            pages += await asyncio.gather(*(fetch(o) for o in offsets))
        while (offset := next_offset(pages, limit)) is not None:
            pages.append(await self._run(self._api.workspaces_page(query, offset, size)))
        return WorkspaceList(merge_pages(pages, limit), count=max(p.count for p in pages))

    async def workspaces_page(self, query: str = "owner:me", *, offset: int = 0,
                              limit: int | None = None) -> WorkspaceList:
        """One page of workspaces matching ``query`` (see ``Coder.workspaces_page``)."""
        page = await self._run(self._api.workspaces_page(query, offset, limit or self.page_size))
        return WorkspaceList(page.workspaces, count=page.count)

    async def iter_workspaces(self, query: str = "owner:me", *,
                              page_size: int | None = None) -> AsyncIterator[Workspace]:
        """Workspaces matching ``query``, one page at a time (``async for``)."""
        size = page_size or self.page_size
        seen: set[str] = set()
        offset: int | None = 0
        while offset is not None:
            page = await self._run(self._api.workspaces_page(query, offset, size))
            for ws in page.workspaces:
                if ws.id not in seen:
                    seen.add(ws.id)
                    yield ws
            offset = next_offset([page])

    async def workspace(self, ref: str, *, include_deleted: bool = False) -> Workspace:
        """One workspace by ``"owner/name"``, ``"name"`` (yours) or id."""
        return await self._run(self._api.workspace(ref, include_deleted=include_deleted))

    async def build(self, build_id: str) -> WorkspaceBuild:
        """A workspace build by id (its current status)."""
        return await self._run(self._api.build(build_id))

    async def build_logs(self, build: WorkspaceBuild | str, *,
                         follow: bool = False) -> AsyncIterator[ProvisionerJobLog]:
        """The build's log lines; with ``follow=True`` keep yielding until the build ends."""
        build_id = self._build_id(build)
        if not follow:
            for line in await self._run(self._api.build_logs(build_id)):
                yield line
            return
        watch = BuildWatch(build if isinstance(build, WorkspaceBuild) else await self.build(build_id), None)
        done = watch.done
        while True:
            logs = await self._run(self._api.build_logs(build_id, after=watch.after))
            watch.saw_logs(logs)
            for line in logs:
                yield line
            if done:
                return
            await asyncio.sleep(watch.next_delay())
            watch.build = await self.build(build_id)
            done = watch.done

    # -- actions --------------------------------------------------------------------------------

    async def create_workspace(
        self,
        name: str,
        template: Template | str,
        *,
        owner: str = "me",
        parameters: Mapping[str, str] | None = None,
        wait: bool = True,
        timeout: float | None = 600.0,
        progress: bool | None = None,
    ) -> WorkspaceBuild:
        """Create a workspace from ``template``; returns its first build (finished unless ``wait=False``)."""
        build = await self._run(self._create_flow(name, template, owner, parameters))
        return await self.wait(build, timeout=timeout, progress=progress) if wait else build

    async def start(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
                    progress: bool | None = None,
                    parameters: Mapping[str, str] | None = None) -> WorkspaceBuild:
        """Start a workspace; returns the build."""
        return await self._transition(workspace, "start", wait, timeout, progress, parameters)

    async def stop(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
                   progress: bool | None = None) -> WorkspaceBuild:
        """Stop a workspace; returns the build."""
        return await self._transition(workspace, "stop", wait, timeout, progress, None)

    async def restart(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
                      progress: bool | None = None) -> WorkspaceBuild:
        """Stop (always waiting), then start; returns the start build."""
        stopped = await self._transition(workspace, "stop", True, timeout, progress, None)
        return await self._transition(stopped.workspace_id, "start", wait, timeout, progress, None)

    async def delete(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
                     progress: bool | None = None) -> WorkspaceBuild:
        """Delete a workspace; returns the build."""
        return await self._transition(workspace, "delete", wait, timeout, progress, None)

    async def cancel(self, build: WorkspaceBuild | str) -> None:
        """Ask Coder to cancel a pending or running build."""
        await self._run(self._api.cancel_build(self._build_id(build)))

    async def _transition(self, workspace: WorkspaceRef, transition: Any, wait: bool, timeout: float | None,
                          progress: bool | None, parameters: Mapping[str, str] | None) -> WorkspaceBuild:
        build = await self._run(self._transition_flow(workspace, transition, parameters))
        return await self.wait(build, timeout=timeout, progress=progress) if wait else build

    async def wait(self, build: WorkspaceBuild | str, *, timeout: float | None = 600.0,
                   progress: bool | None = None) -> WorkspaceBuild:
        """Wait until ``build`` finishes (see ``Coder.wait``)."""
        if not isinstance(build, WorkspaceBuild):
            build = await self.build(build)
        watch = BuildWatch(build, timeout)
        show = make_progress(progress, build)
        with_logs = progress is not False
        ok = False
        try:
            show.update(build)
            while not watch.done:
                if watch.expired():
                    raise watch.timeout_error()
                await asyncio.sleep(watch.next_delay())
                await self._run(self._poll_flow(watch, with_logs))
                show.update(watch.build, watch.last_line)
            if watch.build.failed:
                raise watch.failure(await self._run(self._api.build_logs(watch.build.id)))
            ok = True
            return watch.build
        finally:
            show.close(watch.build, ok)
