"""What the Coder panel's routes send to the browser: an explicit projection of a workspace.

A real Coder workspace's JSON carries more than the panel needs (agent details, environment,
and whatever future versions add); only the listed public fields may ever reach the browser.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from coder_jupyter.client import Workspace
from coder_jupyter.client.models import attach
from coder_jupyter.serverext._workspaces import apps_of, workspace_json

BASE = "https://coder.example.com"
AGENT_TOKEN = "agent-token-0123456789abcdef"


def _workspace(apps: list[dict[str, Any]]) -> Workspace:
    data = {
        "id": "0b0b0b0b-0000-4000-8000-000000000001",
        "name": "dev",
        "owner_name": "alice",
        "template_name": "docker",
        "template_display_name": "Docker Containers",
        "outdated": True,
        "last_used_at": "2026-12-07T05:00:00Z",
        "auth_token": AGENT_TOKEN,
        "latest_build": {
            "id": "0b0b0b0b-0000-4000-8000-000000000002",
            "build_number": 4,
            "transition": "start",
            "status": "running",
            "job": {"status": "succeeded", "error": ""},
            "resources": [{
                "name": "main",
                "agents": [{
                    "name": "main",
                    "token": AGENT_TOKEN,
                    "environment_variables": {"GITHUB_TOKEN": AGENT_TOKEN},
                    "apps": apps,
                }],
            }],
        },
    }
    raw = json.dumps(data).encode()
    return attach(msgspec.json.decode(raw, type=Workspace), raw, BASE)


def test_the_projection_never_carries_fields_it_does_not_name() -> None:
    ws = _workspace([{"slug": "code-server", "display_name": "code-server", "url": "http://localhost:8080",
                      "subdomain": False, "external": False, "health": "healthy"}])

    body = json.dumps(workspace_json(ws, BASE, detail=True))

    assert AGENT_TOKEN in json.dumps(ws.raw)  # the raw JSON had it
    assert AGENT_TOKEN not in body
    row = json.loads(body)
    assert (row["full_name"], row["status"], row["outdated"], row["build"]["number"]) == (
        "alice/dev", "running", True, 4)


def test_apps_open_where_a_browser_can_reach_them() -> None:
    ws = _workspace([
        {"slug": "code-server", "display_name": "VS Code", "subdomain": False, "external": False},
        {"slug": "jup", "display_name": "Jupyter", "subdomain": True, "subdomain_name": "jup--dev--alice"},
        {"slug": "docs", "display_name": "Docs", "external": True, "url": "https://docs.example.com/x"},
        {"slug": "evil", "display_name": "Evil", "external": True, "url": "javascript:alert(1)"},
        {"slug": "creds", "display_name": "Creds", "external": True, "url": "https://u:p@example.com/"},
        {"slug": "hidden", "display_name": "Hidden", "hidden": True, "subdomain": False},
    ])

    apps = {a["slug"]: a["url"] for a in apps_of(ws, BASE)}

    assert apps == {
        "code-server": f"{BASE}/@alice/dev.main/apps/code-server/",
        "jup": f"{BASE}/@alice/dev",
        "docs": "https://docs.example.com/x",
    }
