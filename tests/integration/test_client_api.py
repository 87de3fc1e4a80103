"""The `coder` client's queries and listing against the fake Coder over real HTTP, sync and async.

Every test runs twice: with :class:`Coder` and with :class:`AsyncCoder` (driven from a loop in a
helper thread through :class:`Blocking`, so one test body covers both twins).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from clienthelpers import open_client  # pytest puts this test directory on sys.path

from coder_jupyter.client import (
    BuildInfo,
    Organization,
    TemplateList,
    User,
    Workspace,
    WorkspaceList,
)
from coder_jupyter.errors import NotFoundError
from coder_jupyter.testing import FakeCoder, fake_coder


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCoder]:
    """A read-only deployment shared by this module: 23 workspaces for admin, a member with none."""
    with fake_coder(workspaces=23, users=["bob"], api_rate_limit=None) as f:
        yield f


@pytest.fixture(params=["sync", "async"])
def coder(request: pytest.FixtureRequest, fake: FakeCoder) -> Iterator[Any]:
    client = open_client(request.param, fake, page_size=5)
    yield client
    client.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_buildinfo_needs_no_login(fake: FakeCoder, kind: str) -> None:
    client = open_client(kind, fake, token=None)
    try:
        info = client.buildinfo()
    finally:
        client.close()
    assert isinstance(info, BuildInfo)
    assert info.version.startswith("v2.") and info.dashboard_url == fake.url


def test_me_returns_the_token_owner(coder: Any, fake: FakeCoder) -> None:
    me = coder.me()
    assert isinstance(me, User)
    assert (me.username, me.id) == (fake.username, fake.owner.id)
    assert [r.name for r in me.roles] == ["owner"]
    assert me.created_at is not None and me.created_at.tzinfo is not None


def test_organizations_lists_the_default_organization(coder: Any) -> None:
    orgs = coder.organizations()
    assert [type(o) for o in orgs] == [Organization] and orgs[0].is_default


def test_templates_come_as_a_template_list(coder: Any) -> None:
    templates = coder.templates()
    assert isinstance(templates, TemplateList)
    assert [t.name for t in templates] == ["broken", "docker", "kubernetes"]
    assert coder.template("Docker Containers").name == "docker"


def test_unknown_template_names_the_valid_ones(coder: Any) -> None:
    with pytest.raises(NotFoundError, match=r'Template "nope" was not found.*broken, docker, kubernetes'):
        coder.template("nope")


@pytest.mark.parametrize("ref", ["admin/workspace-7", "workspace-7", "id"])
def test_workspace_by_owner_name_name_or_id(coder: Any, fake: FakeCoder, ref: str) -> None:
    if ref == "id":
        ref = coder.workspace("workspace-7").id
    ws = coder.workspace(ref)
    assert isinstance(ws, Workspace)
    assert ws.full_name == "admin/workspace-7"
    assert ws.dashboard_url == f"{fake.url}/@admin/workspace-7"


def test_listing_many_pages_returns_every_workspace_once_in_order(coder: Any, fake: FakeCoder) -> None:
    # When: 23 workspaces are listed 5 per page
    fake.clear_requests()
    listing = coder.workspaces()
    # Then
    assert isinstance(listing, WorkspaceList) and listing.total == 23
    names = [w.name for w in listing]
    assert len(set(names)) == 23 and names == sorted(names)
    pages = [r for r in fake.requests if r.path == "/api/v2/workspaces"]
    assert len(pages) == 5


def test_listing_with_a_limit_stops_early(coder: Any) -> None:
    listing = coder.workspaces(limit=7)
    assert len(listing) == 7 and listing.total == 23


def test_query_uses_coders_search_syntax(coder: Any) -> None:
    stopped = coder.workspaces("owner:me status:stopped")
    assert {w.status for w in stopped} == {"stopped"} and len(stopped) == 7  # every third of 23


def test_listing_nothing_returns_an_empty_list(coder: Any) -> None:
    assert coder.workspaces("owner:bob") == [] and coder.workspaces("owner:bob").total == 0


def test_iterating_workspaces_is_lazy_and_complete(coder: Any, fake: FakeCoder) -> None:
    names = [w.name for w in coder.iter_workspaces("owner:me")]
    assert len(names) == 23 and len(set(names)) == 23


def test_one_page_of_workspaces_with_the_total(coder: Any) -> None:
    every = [w.name for w in coder.workspaces("owner:me")]

    first = coder.workspaces_page("owner:me", offset=0, limit=10)
    last = coder.workspaces_page("owner:me", offset=20, limit=10)

    assert (len(first), len(last), first.total, last.total) == (10, 3, 23, 23)
    assert [w.name for w in first] == every[:10] and [w.name for w in last] == every[20:]


@pytest.mark.parametrize(("count", "page_size", "requests"), [(0, 5, 1), (1, 5, 1), (5, 5, 1), (6, 5, 2)])
def test_pagination_edges(kind: str, count: int, page_size: int, requests: int) -> None:
    with fake_coder(workspaces=count) as f:
        client = open_client(kind, f, page_size=page_size)
        try:
            f.clear_requests()
            listing = client.workspaces()
            iterated = list(client.iter_workspaces())
        finally:
            client.close()
        assert len(listing) == len(iterated) == listing.total == count
        assert f.request_counts()["GET", "/api/v2/workspaces"] == requests * 2


def test_workspaces_added_during_iteration_are_seen_once(kind: str) -> None:
    with fake_coder(workspaces=6) as f:
        client = open_client(kind, f, page_size=3)
        try:
            seen = []
            if kind == "sync":
                it = client.iter_workspaces()
                seen.append(next(it).name)
                # When: workspaces appear before and after the current position
                f.create_workspace("admin", "a-first")
                f.create_workspace("admin", "zz-last")
                seen += [w.name for w in it]
            else:
                f.create_workspace("admin", "a-first")
                seen = [w.name for w in client.iter_workspaces()]
                f.create_workspace("admin", "zz-last")
                seen += [w.name for w in client.iter_workspaces() if w.name == "zz-last"]
        finally:
            client.close()
        # Then: no workspace is repeated (offsets shift: the page boundary moved by one)
        assert len(seen) == len(set(seen))
        assert "zz-last" in seen


def test_a_listing_that_grows_between_pages_keeps_going(kind: str) -> None:
    with fake_coder(workspaces=4) as f:
        # When: a workspace is created while the listing's second page is being served
        f.add_fault("latency", r"^/api/v2/workspaces$", delay=0.2)
        client = open_client(kind, f, page_size=2)
        timer = threading.Timer(0.3, f.create_workspace, ("admin", "zz-new"))
        timer.start()
        try:
            listing = client.workspaces()
        finally:
            timer.join()
            client.close()
        names = [w.name for w in listing]
        # Then: every workspace appears once, the new one included
        assert len(names) == len(set(names)) == 5 and "zz-new" in names


def test_unknown_fields_are_kept(coder: Any) -> None:
    ws = coder.workspace("workspace-1")
    assert ws["shared_with"] == [] and "template_use_classic_parameter_flow" in ws.raw
    assert ws.latest_build.job.status == "succeeded"


def test_reprs_and_html_show_no_secret(coder: Any, fake: FakeCoder) -> None:
    listing = coder.workspaces(limit=3)
    shown = " ".join([repr(coder), repr(listing), listing._repr_html_(), coder.me()._repr_html_(),
                      coder.templates()._repr_html_(), listing[0]._repr_html_()])
    assert fake.session_token not in shown
    assert f'href="{fake.url}/@admin/workspace-1"' in shown
    assert "running" in shown


def test_to_dataframe_has_one_row_per_workspace(coder: Any) -> None:
    df = coder.workspaces(limit=6).to_dataframe()
    assert len(df) == 6
    assert {"owner_name", "name", "status", "template_name", "last_used_at"} <= set(df.columns)
    assert len(coder.templates().to_dataframe()) == 3
