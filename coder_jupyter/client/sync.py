"""The synchronous client, :class:`Coder` — what ``coder`` is in a notebook."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from .._transport import Flow, drive
from ._base import BuildWatch, CoderBase, WorkspaceRef, merge_pages, next_offset, plan_offsets
from ._lists import TemplateList, WorkspaceList
from ._progress import make_progress
from .models import BuildInfo, Organization, ProvisionerJobLog, Template, User, Workspace, WorkspaceBuild

__all__ = ["Coder"]

T = TypeVar("T")


class Coder(CoderBase):
    """A Coder deployment, from Python::

        from coder_jupyter import Coder

        with Coder("https://coder.example.com", token="...") as coder:   # or CODER_URL/CODER_SESSION_TOKEN
            coder.me()
            ws = coder.workspaces("owner:me status:running")
            ws.to_dataframe()
            coder.stop("alice/dev")          # waits, with a progress bar in a notebook

    Args:
        url: the deployment (default: ``CODER_URL``).
        token: an API/session token; default: the login layer's precedence (``CODER_SESSION_TOKEN``,
            an OAuth login, the Coder CLI's session). ``coder.auth`` logs in and out.
        config: a ``CoderConfig`` (TLS, headers, OAuth settings).
        timeout: seconds per HTTP request (default: the configuration's, 30 s).
        retry: the :class:`~coder_jupyter._transport.RetryPolicy` for idempotent requests.
        page_size: workspaces per page when listing.
        concurrency: pages fetched at the same time when the total is known.

    One :class:`httpx.Client` (connection pool) is reused by every call; close it with
    :meth:`close` or a ``with`` block. Every method may raise :class:`~coder_jupyter.errors.CoderError`
    subclasses: ``NotLoggedInError`` before login, ``CoderAPIError`` (401/403/404/400/429/5xx)
    and ``TransportError`` (deployment unreachable).
    """

    _client: httpx.Client

    def _open_client(self) -> httpx.Client:
        return self._conn.make_client()

    def _run(self, flow: Flow[T]) -> T:
        return drive(flow, self._client, retry=self.retry)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Coder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries --------------------------------------------------------------------------------

    def buildinfo(self) -> BuildInfo:
        """The deployment's version and dashboard URL (works without logging in)."""
        return self._run(self._api.buildinfo())

    def me(self) -> User:
        """The logged-in user."""
        return self._run(self._api.user("me"))

    def user(self, user: str) -> User:
        """A user by id or username."""
        return self._run(self._api.user(user))

    def organizations(self) -> list[Organization]:
        """The organizations you belong to."""
        return self._run(self._api.organizations())

    def templates(self, organization: str | None = None) -> TemplateList:
        """Templates you can build workspaces from (optionally of one organization)."""
        return TemplateList(self._run(self._api.templates(organization)))

    def template(self, ref: str) -> Template:
        """A template by id, name or display name (``NotFoundError`` lists the valid names)."""
        template_id = self._run(self._template_flow(ref))
        return next(t for t in self.templates() if t.id == template_id)

    def workspaces(self, query: str = "owner:me", *, limit: int | None = None) -> WorkspaceList:
        """All workspaces matching Coder's search ``query``, fetched page by page.

        ``query`` uses the dashboard's syntax: ``"owner:me"``, ``"owner:alice status:running"``,
        ``"template:docker name:dev"``, ``""`` (everything you can see). The first page tells the
        total; the other pages are then fetched concurrently. ``limit`` caps how many are returned.
        """
        size = self.page_size if limit is None else min(self.page_size, limit)
        first = self._run(self._api.workspaces_page(query, 0, size))
        offsets = plan_offsets(first.count, len(first.workspaces), size, limit)
        pages = [first]
        if offsets:
            workers = min(self.concurrency, len(offsets))
            with ThreadPoolExecutor(workers, thread_name_prefix="coder-page") as pool:
                pages += pool.map(lambda o: self._run(self._api.workspaces_page(query, o, size)), offsets)
        while (offset := next_offset(pages, limit)) is not None:
            pages.append(self._run(self._api.workspaces_page(query, offset, size)))
        items = merge_pages(pages, limit)
        return WorkspaceList(items, count=max(p.count for p in pages))

    def workspaces_page(self, query: str = "owner:me", *, offset: int = 0,
                        limit: int | None = None) -> WorkspaceList:
        """One page of workspaces matching ``query``: ``limit`` rows (the page size by default)
        starting at ``offset``; ``.total`` is how many match in all. For UIs that show a page at a time."""
        page = self._run(self._api.workspaces_page(query, offset, limit or self.page_size))
        return WorkspaceList(page.workspaces, count=page.count)

    def iter_workspaces(
        self, query: str = "owner:me", *, page_size: int | None = None
    ) -> Iterator[Workspace]:
        """Workspaces matching ``query``, one page at a time (lazy: stop whenever you like)."""
        size = page_size or self.page_size
        seen: set[str] = set()
        offset: int | None = 0
        while offset is not None:
            page = self._run(self._api.workspaces_page(query, offset, size))
            for ws in page.workspaces:
                if ws.id not in seen:
                    seen.add(ws.id)
                    yield ws
            offset = next_offset([page])

    def workspace(self, ref: str, *, include_deleted: bool = False) -> Workspace:
        """One workspace by ``"owner/name"``, ``"name"`` (yours) or id."""
        return self._run(self._api.workspace(ref, include_deleted=include_deleted))

    def build(self, build_id: str) -> WorkspaceBuild:
        """A workspace build by id (its current status)."""
        return self._run(self._api.build(build_id))

    def build_logs(self, build: WorkspaceBuild | str, *, follow: bool = False) -> Iterator[ProvisionerJobLog]:
        """The build's log lines; with ``follow=True``, keep yielding new lines until the build ends.

        Following polls the JSON logs endpoint with ``after=<last id>`` (Coder's WebSocket form
        would need a WebSocket client; polling needs nothing more than httpx).
        """
        build_id = self._build_id(build)
        if not follow:
            yield from self._run(self._api.build_logs(build_id))
            return
        watch = BuildWatch(build if isinstance(build, WorkspaceBuild) else self.build(build_id), None)
        done = watch.done
        while True:
            logs = self._run(self._api.build_logs(build_id, after=watch.after))
            watch.saw_logs(logs)
            yield from logs
            if done:
                return
            time.sleep(watch.next_delay())
            watch.build = self.build(build_id)
            done = watch.done

    # -- actions --------------------------------------------------------------------------------

    def create_workspace(
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
        """Create a workspace from ``template`` (name, display name, id or object); returns its first build.

        With ``wait=True`` (default) this returns once the build finished (see :meth:`wait`).
        """
        build = self._run(self._create_flow(name, template, owner, parameters))
        return self.wait(build, timeout=timeout, progress=progress) if wait else build

    def start(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
              progress: bool | None = None, parameters: Mapping[str, str] | None = None) -> WorkspaceBuild:
        """Start a workspace; returns the build (finished, unless ``wait=False``)."""
        return self._transition(workspace, "start", wait, timeout, progress, parameters)

    def stop(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
             progress: bool | None = None) -> WorkspaceBuild:
        """Stop a workspace; returns the build (finished, unless ``wait=False``)."""
        return self._transition(workspace, "stop", wait, timeout, progress, None)

    def restart(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
                progress: bool | None = None) -> WorkspaceBuild:
        """Stop (always waiting), then start; returns the start build."""
        stopped = self._transition(workspace, "stop", True, timeout, progress, None)
        return self._transition(stopped.workspace_id, "start", wait, timeout, progress, None)

    def delete(self, workspace: WorkspaceRef, *, wait: bool = True, timeout: float | None = 600.0,
               progress: bool | None = None) -> WorkspaceBuild:
        """Delete a workspace (a ``delete`` build); returns the build."""
        return self._transition(workspace, "delete", wait, timeout, progress, None)

    def cancel(self, build: WorkspaceBuild | str) -> None:
        """Ask Coder to cancel a pending or running build."""
        self._run(self._api.cancel_build(self._build_id(build)))

    def _transition(self, workspace: WorkspaceRef, transition: Any, wait: bool, timeout: float | None,
                    progress: bool | None, parameters: Mapping[str, str] | None) -> WorkspaceBuild:
        build = self._run(self._transition_flow(workspace, transition, parameters))
        return self.wait(build, timeout=timeout, progress=progress) if wait else build

    def wait(self, build: WorkspaceBuild | str, *, timeout: float | None = 600.0,
             progress: bool | None = None) -> WorkspaceBuild:
        """Wait until ``build`` finishes, showing progress; return the final build.

        Polls the build with backoff (0.1 s growing to 2 s). ``progress``: ``None`` (auto: a
        bar in a notebook, lines on stderr elsewhere), ``True``, or ``False`` for silence.

        Raises:
            BuildFailedError: the build ended ``failed`` or ``canceled`` (carries its last log lines).
            WaitTimeoutError: still running after ``timeout`` seconds (the build goes on).
        """
        if not isinstance(build, WorkspaceBuild):
            build = self.build(build)
        watch = BuildWatch(build, timeout)
        show = make_progress(progress, build)
        with_logs = progress is not False
        ok = False
        try:
            show.update(build)
            while not watch.done:
                if watch.expired():
                    raise watch.timeout_error()
                time.sleep(watch.next_delay())
                self._run(self._poll_flow(watch, with_logs))
                show.update(watch.build, watch.last_line)
            if watch.build.failed:
                raise watch.failure(self._run(self._api.build_logs(watch.build.id)))
            ok = True
            return watch.build
        finally:
            show.close(watch.build, ok)
