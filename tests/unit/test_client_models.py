"""Models: decoding from bytes, unknown and missing fields, reprs and HTML (no sockets)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import msgspec
import pytest

from coder_jupyter.client import Template, TemplateList, Workspace, WorkspaceBuild, WorkspaceList
from coder_jupyter.client._api import Api
from coder_jupyter.client._html import badge

BASE = "https://coder.example.com"


def workspace_json(name: str = "dev", **extra: object) -> dict[str, object]:
    return {
        "id": "11111111-2222-3333-4444-555555555555",
        "name": name,
        "owner_name": "alice",
        "template_name": "docker",
        "created_at": "2026-01-02T03:04:05.123456Z",
        "last_used_at": "0001-01-01T00:00:00Z",
        "latest_build": {"build_number": 3, "transition": "start", "status": "running",
                         "workspace_name": name, "workspace_owner_name": "alice",
                         "job": {"status": "succeeded", "completed_at": None}},
        **extra,
    }


def page(*items: dict[str, object], count: int | None = None) -> bytes:
    return json.dumps({"workspaces": list(items), "count": len(items) if count is None else count}).encode()


def test_a_page_decodes_to_typed_workspaces_with_the_deployment_attached() -> None:
    decoded = Api(BASE).decode_workspaces_page(page(workspace_json(), count=40), offset=20)
    (ws,) = decoded.workspaces
    assert (decoded.count, decoded.offset) == (40, 20)
    assert ws.status == "running" and ws.full_name == "alice/dev"
    assert ws.created_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    assert ws.dashboard_url == f"{BASE}/@alice/dev"
    assert ws.latest_build.done and not ws.latest_build.failed


def test_unknown_fields_from_newer_coder_are_kept() -> None:
    body = page(workspace_json(brand_new_field={"x": 1}))
    ws = Api(BASE).decode_workspaces_page(body).workspaces[0]
    assert ws["brand_new_field"] == {"x": 1}
    assert ws.to_dict()["latest_build"]["job"]["status"] == "succeeded"


def test_fields_missing_in_older_coder_get_defaults() -> None:
    ws = msgspec.json.decode(b'{"id": "x", "name": "old"}', type=Workspace)
    assert (ws.status, ws.ttl_ms, ws.health.healthy, ws.dashboard_url) == ("", None, True, None)
    assert ws.raw["name"] == "old"  # without raw bytes, raw falls back to the known fields


def test_a_wrongly_typed_field_is_a_clear_error() -> None:
    from coder_jupyter.errors import CoderError

    with pytest.raises(CoderError, match="cannot read"):
        Api(BASE).decode_workspaces_page(page(workspace_json(name=42)))  # type: ignore[arg-type]


def test_reprs_are_concise() -> None:
    ws = Api(BASE).decode_workspaces_page(page(workspace_json())).workspaces[0]
    assert repr(ws) == "Workspace('alice/dev', status='running', template='docker')"
    assert repr(ws.latest_build) == "WorkspaceBuild('alice/dev' #3, transition='start', status='running')"
    many = WorkspaceList([ws] * 12)
    assert repr(many).endswith("… 2 more])") and many.total == 12


def test_html_escapes_server_text() -> None:
    hostile = "<script>alert(1)</script>"
    ws = Api(BASE).decode_workspaces_page(page(workspace_json(name=hostile))).workspaces[0]
    t = Template(name="t", display_name=hostile, description=hostile)
    for html in (ws._repr_html_(), WorkspaceList([ws])._repr_html_(), t._repr_html_(),
                 TemplateList([t])._repr_html_(), badge(hostile)):
        assert "<script>" not in html and "&lt;script&gt;" in html


def test_empty_lists_render_a_short_note() -> None:
    assert "No workspaces" in WorkspaceList()._repr_html_()
    assert "No templates" in TemplateList()._repr_html_()


def test_build_states() -> None:
    running = WorkspaceBuild(status="starting")
    failed = msgspec.json.decode(b'{"status": "failed", "job": {"status": "failed"}}', type=WorkspaceBuild)
    assert not running.done and failed.done and failed.failed


def test_to_dataframe_flattens_workspaces() -> None:
    ws = Api(BASE).decode_workspaces_page(page(workspace_json(), workspace_json("two"))).workspaces
    df = WorkspaceList(ws).to_dataframe()
    assert list(df["name"]) == ["dev", "two"] and list(df["status"]) == ["running", "running"]
