"""Page planning, merging and the build-wait state (pure functions; no sockets, no sleeping)."""

from __future__ import annotations

import pytest

from coder_jupyter.client import Workspace, WorkspaceBuild
from coder_jupyter.client._api import WorkspacesPage
from coder_jupyter.client._base import BuildWatch, merge_pages, next_offset, plan_offsets


def ws(n: int) -> Workspace:
    return Workspace(id=f"id-{n}", name=f"w{n}")


def pg(offset: int, ids: range, count: int) -> WorkspacesPage:
    return WorkspacesPage([ws(i) for i in ids], count, offset)


@pytest.mark.parametrize(
    ("count", "first_len", "size", "limit", "expected"),
    [
        (0, 0, 100, None, []),
        (1, 1, 100, None, []),
        (100, 100, 100, None, []),
        (250, 100, 100, None, [100, 200]),
        (250, 50, 100, None, [50, 100, 150, 200]),  # the server capped the page at 50
        (250, 100, 100, 150, [100]),
    ],
)
def test_plan_offsets(count: int, first_len: int, size: int, limit: int | None, expected: list[int]) -> None:
    assert plan_offsets(count, first_len, size, limit) == expected


def test_next_offset_stops_at_the_largest_count_seen() -> None:
    assert next_offset([pg(0, range(3), 3)]) is None
    assert next_offset([pg(0, range(3), 3), pg(3, range(3, 3), 4)]) is None  # empty page ends it
    assert next_offset([pg(0, range(3), 3), pg(3, range(3, 6), 7)]) == 6  # grew while listing
    assert next_offset([pg(0, range(3), 9)], limit=3) is None


def test_merge_pages_orders_by_offset_and_drops_duplicates() -> None:
    merged = merge_pages([pg(3, range(2, 5), 5), pg(0, range(3), 5)])
    assert [w.id for w in merged] == ["id-0", "id-1", "id-2", "id-3", "id-4"]
    assert len(merge_pages([pg(0, range(5), 5)], limit=2)) == 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_build_watch_backs_off_and_respects_the_deadline() -> None:
    clock = Clock()
    watch = BuildWatch(WorkspaceBuild(status="starting"), timeout=3.0, clock=clock)
    delays = [watch.next_delay() for _ in range(4)]
    assert delays == pytest.approx([0.1, 0.15, 0.225, 0.3375])
    clock.now = 102.9
    assert watch.next_delay() == pytest.approx(0.1)
    clock.now = 103.0
    assert watch.expired()
    assert "still starting" in str(watch.timeout_error())


def test_build_watch_failure_carries_the_last_lines() -> None:
    from coder_jupyter.client import ProvisionerJobLog

    watch = BuildWatch(WorkspaceBuild(status="failed", workspace_name="w", workspace_owner_name="a"), None)
    logs = [ProvisionerJobLog(id=i, output=f"line {i}", stage="Apply") for i in range(30)]
    err = watch.failure(logs)
    assert err.status == "failed" and len(err.logs) == 20 and err.logs[-1] == "[Apply] line 29"
    assert "a/w failed" in str(err)
