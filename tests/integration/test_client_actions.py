"""Workspace actions against the fake Coder, sync and async: create/start/stop/restart/delete,
waiting with a timeout, a failed build, following logs, progress output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clienthelpers import open_client  # pytest puts this test directory on sys.path

from coder_jupyter.client import Coder, WorkspaceBuild
from coder_jupyter.errors import BuildFailedError, CoderAPIError, WaitTimeoutError
from coder_jupyter.testing import FakeCoder, fake_coder


@pytest.fixture
def fake() -> Iterator[FakeCoder]:
    with fake_coder(workspaces=3, build_step_seconds=0.05, users=["bob"]) as f:
        yield f


@pytest.fixture(params=["sync", "async"])
def coder(request: pytest.FixtureRequest, fake: FakeCoder) -> Iterator[Any]:
    client = open_client(request.param, fake)
    yield client
    client.close()


def test_stop_waits_until_the_workspace_is_stopped(coder: Any, fake: FakeCoder) -> None:
    build = coder.stop("workspace-1", progress=False)
    assert isinstance(build, WorkspaceBuild)
    assert (build.transition, build.status, build.done) == ("stop", "stopped", True)
    assert coder.workspace("workspace-1").status == "stopped"


def test_start_without_waiting_returns_the_pending_build(coder: Any) -> None:
    build = coder.start("workspace-3", wait=False)
    assert build.transition == "start" and not build.done
    assert coder.wait(build, progress=False).status == "running"


def test_restart_stops_then_starts(coder: Any, fake: FakeCoder) -> None:
    ws = coder.workspace("workspace-2")
    build = coder.restart(ws, progress=False)
    assert (build.transition, build.status) == ("start", "running")
    assert build.build_number == ws.latest_build.build_number + 2


def test_create_then_delete_a_workspace(coder: Any) -> None:
    build = coder.create_workspace("notebook-ws", "docker", progress=False)
    assert (build.workspace_name, build.status) == ("notebook-ws", "running")
    deleted = coder.delete("notebook-ws", progress=False)
    assert deleted.status == "deleted"
    assert "notebook-ws" not in [w.name for w in coder.workspaces()]


def test_a_failed_build_raises_with_status_and_last_log_lines(coder: Any) -> None:
    with pytest.raises(BuildFailedError) as caught:
        coder.create_workspace("bad-ws", "broken", progress=False)
    err = caught.value
    assert err.status == "failed" and err.build.status == "failed"
    assert err.logs and any("rror" in line for line in err.logs)
    assert "bad-ws" in str(err) and "Last log lines" in str(err)


def test_waiting_longer_than_the_timeout_raises_and_keeps_the_build(coder: Any, fake: FakeCoder) -> None:
    fake.configure(build_step_seconds=60)
    with pytest.raises(WaitTimeoutError) as caught:
        coder.stop("workspace-1", timeout=0.3, progress=False)
    assert caught.value.build.status in ("pending", "stopping")
    # Then: the build finishes on Coder's side later
    fake.advance(300)
    assert coder.wait(caught.value.build.id, progress=False).status == "stopped"


def test_a_second_build_while_one_runs_is_a_conflict(coder: Any, fake: FakeCoder) -> None:
    fake.configure(build_step_seconds=60)
    coder.stop("workspace-1", wait=False)
    with pytest.raises(CoderAPIError) as caught:
        coder.start("workspace-1", wait=False)
    assert caught.value.status == 409 and "already in progress" in str(caught.value)


def test_following_logs_yields_every_line_until_the_build_ends(coder: Any) -> None:
    build = coder.stop("workspace-1", wait=False)
    followed = list(coder.build_logs(build, follow=True))
    finished = coder.build(build.id)
    assert finished.status == "stopped"
    assert [line.id for line in followed] == [line.id for line in coder.build_logs(build)]
    assert len(followed) > 3


def test_cancel_a_running_build(coder: Any, fake: FakeCoder) -> None:
    fake.configure(build_step_seconds=60)
    build = coder.stop("workspace-1", wait=False)
    coder.cancel(build)
    fake.configure(build_step_seconds=0.05)
    with pytest.raises(BuildFailedError) as caught:
        coder.wait(build, progress=False, timeout=30)
    assert caught.value.status in ("canceled", "canceling", "failed")


def test_progress_in_a_terminal_is_plain_text(fake: FakeCoder, capsys: pytest.CaptureFixture[str]) -> None:
    with Coder(fake.url, token=fake.session_token) as coder:
        coder.stop("workspace-1", progress=True)
    err = capsys.readouterr().err
    assert "admin/workspace-1: stop" in err and "done: stopped" in err
    assert fake.session_token not in err
