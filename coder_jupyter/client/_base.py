"""What :class:`~coder_jupyter.client.Coder` and :class:`~coder_jupyter.client.AsyncCoder` share.

The twins differ only in *how they wait* (``drive`` vs ``await adrive``, ``time.sleep`` vs
``asyncio.sleep``, a thread pool vs ``asyncio.gather``). Everything else lives here once:
construction, resolving "a workspace" from an object / id / ``owner/name``, composite flows
(resolve, then act), the page plan for concurrent listing, and the build-waiting state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from .._login import AuthManager, AuthStatus
from .._transport import Flow, RetryPolicy
from ..errors import BuildFailedError, NotFoundError, WaitTimeoutError
from ._api import Api, WorkspacesPage, is_uuid, template_ids
from ._connection import connect
from .models import ProvisionerJobLog, Template, Workspace, WorkspaceBuild

__all__ = ["DEFAULT_PAGE_SIZE", "BuildWatch", "CoderBase", "WorkspaceRef", "next_offset", "plan_offsets"]

#: Workspaces per page when listing. Coder has no documented maximum (its CLI asks for all at
#: once), and every page counts against the API rate limit (``CODER_API_RATE_LIMIT``, 512
#: requests per minute per user and endpoint by default): 250 lists 10 000 workspaces in 40
#: requests (100 would take 100, a fifth of a minute's budget) and scans 2.5× fewer rows in
#: Coder's ``OFFSET`` queries, while one page stays under a megabyte or two of JSON.
DEFAULT_PAGE_SIZE = 250
#: Pages in flight at once once the total is known. It bounds the burst a notebook sends a
#: shared deployment (like a browser's handful of connections per host, times a few); with 250
#: per page, 10 000 workspaces take the first page plus 3 rounds of requests.
DEFAULT_CONCURRENCY = 16
#: How many log lines a :class:`BuildFailedError` carries.
FAILED_LOG_LINES = 20

WorkspaceRef = Workspace | str
TransitionName = Literal["start", "stop", "delete"]


def plan_offsets(count: int, first_len: int, page_size: int, limit: int | None = None) -> list[int]:
    """Offsets of the pages still to fetch after a first page of ``first_len`` items.

    ``count`` is the server's total. If the server returned fewer items than asked (it may cap
    ``limit``), its page size is used instead. ``limit`` stops at that many items overall.
    """
    if first_len == 0:
        return []
    step = min(page_size, first_len)
    end = count if limit is None else min(count, limit)
    return list(range(first_len, end, step))


def next_offset(pages: Sequence[WorkspacesPage], limit: int | None = None) -> int | None:
    """Where to continue after ``pages`` (sorted by offset), or ``None`` when the listing is complete.

    Items created during a listing raise ``count``; a page shorter than asked, or reaching the
    largest ``count`` seen, ends it.
    """
    last = pages[-1]
    end = last.offset + len(last.workspaces)
    total = max(p.count for p in pages)
    if not last.workspaces or end >= total or (limit is not None and end >= limit):
        return None
    return end


def merge_pages(pages: Iterable[WorkspacesPage], limit: int | None = None) -> list[Workspace]:
    """Concatenate pages in offset order, dropping duplicates (offsets shift when items are added)."""
    seen: set[str] = set()
    out: list[Workspace] = []
    for page in sorted(pages, key=lambda p: p.offset):
        for ws in page.workspaces:
            if ws.id not in seen:
                seen.add(ws.id)
                out.append(ws)
    return out if limit is None else out[:limit]


class BuildWatch:
    """The waiting state of one build: poll delays (backoff), the deadline, log tail, outcome.

    Args:
        build: the build as last seen.
        timeout: seconds to wait in total (``None``: forever).
        clock: monotonic seconds (tests pass a fake).
    """

    first_delay = 0.1
    max_delay = 2.0

    def __init__(self, build: WorkspaceBuild, timeout: float | None, clock: Any = time.monotonic) -> None:
        self.build = build
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        self.timeout = timeout
        self._delay = self.first_delay
        self.after = 0  # id of the last log line seen
        self.last_line: str | None = None

    @property
    def done(self) -> bool:
        """The build reached a final status."""
        return self.build.done

    def next_delay(self) -> float:
        """Seconds to sleep before the next poll (grows ×1.5 up to 2 s; never past the deadline)."""
        delay = self._delay
        self._delay = min(self.max_delay, self._delay * 1.5)
        if self.deadline is not None:
            delay = max(0.0, min(delay, self.deadline - self.clock()))
        return delay

    def expired(self) -> bool:
        """The deadline passed and the build is not done."""
        return self.deadline is not None and self.clock() >= self.deadline and not self.done

    def saw_logs(self, logs: Sequence[ProvisionerJobLog]) -> None:
        """Remember new log lines (for ``after=`` and the progress line)."""
        if logs:
            self.after = logs[-1].id
            self.last_line = str(logs[-1])

    def timeout_error(self) -> WaitTimeoutError:
        """The error for a build still running at the deadline."""
        b = self.build
        return WaitTimeoutError(
            f"Waited {self.timeout:g}s for {b.transition} of {b.workspace_full_name} (build "
            f"#{b.build_number}); it is still {b.status}. It keeps running on Coder: wait again with "
            f"coder.wait(build) or a larger timeout=, or cancel it with coder.cancel(build).",
            build=b,
        )

    def failure(self, logs: Sequence[ProvisionerJobLog]) -> BuildFailedError:
        """The error for a build that ended ``failed``/``canceled``, with its last log lines."""
        b = self.build
        lines = [str(line) for line in logs[-FAILED_LOG_LINES:]]
        reason = f": {b.job.error}" if b.job.error else ""
        shown = "".join(f"\n  {line}" for line in lines[-5:])
        return BuildFailedError(
            f"The {b.transition} build #{b.build_number} of {b.workspace_full_name} {b.status}{reason}."
            + (f"\nLast log lines:{shown}" if shown else "")
            + "\nSee all logs with coder.build_logs(build) or in the dashboard.",
            build=b,
            status=b.status,
            logs=lines,
        )


class CoderBase:
    """Construction and flows shared by the sync and async clients (see their docstrings)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        config: Any = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        conn = connect(url, token=token, config=config, timeout=timeout)
        self._conn = conn
        #: The deployment URL, e.g. ``https://coder.example.com``.
        self.url: str = conn.url
        #: Login, logout and status (``coder.auth.begin_login()``, ``coder.auth.logout()``, ...).
        self.auth: AuthManager = conn.manager
        self._api = Api(conn.url, granted=self.auth.granted_scope)
        self.retry = retry if retry is not None else RetryPolicy()
        if page_size < 1 or concurrency < 1:
            raise ValueError("page_size and concurrency must be at least 1")
        self.page_size = page_size
        self.concurrency = concurrency
        self._client = self._open_client()

    def _open_client(self) -> Any:
        raise NotImplementedError  # the twins open an httpx.Client / httpx.AsyncClient

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def wait_for_login(self, timeout: float | None = None) -> AuthStatus:
        """Block until the login started by the widget (or ``%coder login``) completes.

        For scripts and "Run all": the cell after ``%load_ext coder_jupyter`` can call this and
        continue once the user has approved in the browser. Returns at once when already logged in.

        Raises:
            LoginTimeoutError: nothing arrived within ``timeout`` seconds.
            AccessDeniedError: the user pressed Cancel on Coder's consent page.
        """
        status = self.auth.status()
        return status if status.status == "logged_in" else self.auth.wait_for_login(timeout)

    async def await_login(self, timeout: float | None = None) -> AuthStatus:
        """Awaitable form of :meth:`wait_for_login` (``await coder.await_login()``); never blocks
        the event loop."""
        status = self.auth.status()
        return status if status.status == "logged_in" else await self.auth.await_login(timeout)

    # -- composite flows ----------------------------------------------------------------------

    def _workspace_id_flow(self, ref: WorkspaceRef) -> Flow[tuple[str, str]]:
        """``(id, description)`` of a workspace given as an object, an id or ``owner/name``."""
        if isinstance(ref, Workspace):
            return ref.id, f'workspace "{ref.full_name}"'
        if is_uuid(ref):
            return ref, f"workspace {ref}"
        ws = yield from self._api.workspace(ref)
        return ws.id, f'workspace "{ref}"'

    def _transition_flow(self, ref: WorkspaceRef, transition: TransitionName,
                         parameters: Mapping[str, str] | None = None) -> Flow[WorkspaceBuild]:
        ws_id, what = yield from self._workspace_id_flow(ref)
        return (yield from self._api.create_build(ws_id, transition, what=what, parameters=parameters))

    def _template_flow(self, ref: Template | str) -> Flow[str]:
        if isinstance(ref, Template):
            return ref.id
        if is_uuid(ref):
            return ref
        templates = yield from self._api.templates()
        found = template_ids(templates, ref)
        if found is None:
            names = ", ".join(sorted(t.name for t in templates)) or "none"
            raise NotFoundError(
                f'Template "{ref}" was not found. Templates you can use: {names}.',
                status=404, hint="Pick one of the listed templates (coder.templates()).",
            )
        return found.id

    def _create_flow(self, name: str, template: Template | str, owner: str,
                     parameters: Mapping[str, str] | None) -> Flow[WorkspaceBuild]:
        template_id = yield from self._template_flow(template)
        ws = yield from self._api.create_workspace(name, template_id=template_id, owner=owner,
                                                   parameters=parameters)
        return ws.latest_build

    def _poll_flow(self, watch: BuildWatch, with_logs: bool) -> Flow[WorkspaceBuild]:
        """One poll: the build, and (for progress) the log lines since the last poll."""
        build = yield from self._api.build(watch.build.id)
        if with_logs:
            logs = yield from self._api.build_logs(build.id, after=watch.after)
            watch.saw_logs(logs)
        watch.build = build
        return build

    @staticmethod
    def _build_id(build: WorkspaceBuild | str) -> str:
        return build.id if isinstance(build, WorkspaceBuild) else build
