"""The fake's cached workspace JSON is byte-for-byte what fresh serialization gives, at every moment."""

from __future__ import annotations

import json

import httpx
import pytest

from coder_jupyter.testing import FakeCoder
from coder_jupyter.testing._serialize import SEPARATORS, workspace_json, workspaces_response
from coder_jupyter.testing._state import Clock, State, Workspace


class FrozenClock(Clock):
    """A clock that moves only when told to (so cached and fresh bytes share one ``now``)."""

    def __init__(self, now: float) -> None:
        super().__init__()
        self.t = now

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture
def state() -> State:
    state = State(clock=FrozenClock(1_750_000_000.25), build_step_seconds=1.0)
    owner = state.add_user("admin", "pw", owner=True)
    state.add_user("alice", "pw")
    state.add_template("docker", display_name="Docker", description="", icon="", fails=False)
    state.add_template("broken", display_name="Broken", description="", icon="", fails=True)
    docker = state.find_template("docker")
    assert docker is not None
    for i in range(3):
        state.add_workspace(owner, f"ready-{i}", docker, completed=True, ttl_ms=3_600_000 if i else None)
    return state


def fresh(state: State, workspaces: list[Workspace]) -> bytes:
    now = state.clock.now()
    body = {"workspaces": [workspace_json(state, ws, now) for ws in workspaces], "count": len(workspaces)}
    return json.dumps(body, separators=SEPARATORS).encode()


def cached(state: State, workspaces: list[Workspace]) -> bytes:
    return workspaces_response(state, workspaces, len(workspaces), state.clock.now())


def assert_same(state: State) -> None:
    workspaces = list(state.workspaces.values())
    assert cached(state, workspaces) == fresh(state, workspaces)


def test_cached_listing_matches_fresh_serialization_through_a_build_lifecycle(state: State) -> None:
    owner = state.find_user("admin")
    alice = state.find_user("alice")
    broken = state.find_template("broken")
    assert owner is not None and alice is not None and broken is not None
    ws = state.add_workspace(alice, "dev", broken)  # its start build will fail
    assert_same(state)  # pending
    seen_statuses = set()
    for _ in range(6):  # pending → running → failed, and the clock keeps moving afterwards
        state.clock.advance(0.75)
        assert_same(state)
        seen_statuses.add(json.loads(cached(state, [ws]))["workspaces"][0]["latest_build"]["status"])
    assert {"starting", "failed"} <= seen_statuses

    # When a new build starts, is canceled while running, and the clock passes the cancel
    target = next(iter(state.workspaces.values()))
    assert_same(state)
    build = state.add_build(target, "stop", owner)
    assert_same(state)
    state.clock.advance(1.5)
    assert_same(state)
    state.cancel_job(build.job)
    assert_same(state)
    state.clock.advance(2)
    # Then every response still equals a fresh serialization
    assert_same(state)
    assert json.loads(cached(state, [target]))["workspaces"][0]["latest_build"]["status"] == "canceled"


def test_cached_listing_follows_edits_to_rows_it_depends_on(state: State) -> None:
    assert_same(state)
    # When rows are edited in place (as a test or an admin route may do)
    template = state.find_template("docker")
    user = state.find_user("admin")
    assert template is not None and user is not None
    template.display_name = "Docker (new)"
    template.active_version_name = "docker-v2"
    user.username = "root"
    next(iter(state.workspaces.values())).last_used_at += 60
    # Then the cache does not serve the old bytes
    assert_same(state)
    body = json.loads(cached(state, list(state.workspaces.values())))
    assert {w["template_display_name"] for w in body["workspaces"]} == {"Docker (new)"}
    assert {w["owner_name"] for w in body["workspaces"]} == {"root"}


@pytest.mark.coder_fake(build_step_seconds=0.2)
def test_listing_over_http_is_not_stale_after_advance(coder_fake: FakeCoder, api: httpx.Client) -> None:
    ws_id = coder_fake.create_workspace("admin", "dev", ready=False)

    def status() -> str:
        page = api.get("/api/v2/workspaces", params={"q": "name:dev"}).json()
        assert page["count"] == 1
        single = api.get(f"/api/v2/workspaces/{ws_id}").json()
        assert single["latest_build"]["status"] == page["workspaces"][0]["latest_build"]["status"]
        return str(page["workspaces"][0]["latest_build"]["status"])

    assert status() == "pending"
    coder_fake.advance(0.3)
    assert status() == "starting"
    coder_fake.advance(1)
    assert status() == "running"
    api.post(f"/api/v2/workspaces/{ws_id}/builds", json={"transition": "stop"}).raise_for_status()
    assert status() == "pending"
    coder_fake.advance(1)
    assert status() == "stopped"


def test_unfiltered_page_equals_a_slice_of_the_full_listing(state: State) -> None:
    owner, alice = state.find_user("admin"), state.find_user("alice")
    docker = state.find_template("docker")
    assert owner is not None and alice is not None and docker is not None
    extra = [state.add_workspace(alice, f"a-{i}", docker, completed=True) for i in range(4)]
    state.add_build(extra[1], "delete", alice)  # deleting: still listed
    state.add_build(extra[2], "delete", alice)
    state.clock.advance(10)  # both deletes succeed: hidden from listings
    state.add_build(extra[2], "start", alice)  # ...unless a later build exists
    for owner_id in (None, owner.id, alice.id):
        full = state.list_workspaces(owner_id=owner_id)
        for offset in range(len(full) + 2):
            for limit in (0, 1, 2, 5):
                page, count = state.list_workspace_page(owner_id=owner_id, offset=offset, limit=limit)
                assert count == len(full)
                assert page == (full[offset : offset + limit] if limit else full[offset:])
    assert extra[1] not in state.list_workspaces(owner_id=None)
