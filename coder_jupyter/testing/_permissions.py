"""What each REST route needs from an access token's scope, and how Coder answers without it.

One declarative table (CODER_BEHAVIOR.md §7 G4). Keys are ``(method, route template)`` as the
handlers name their ``route``; values list the permissions checked, in order, each with the
answer a token lacking it gets:

* ``"404"``: a read filtered by the database authorizer (``Resource not found …``);
* ``"403"``: a write or action the handler checks explicitly (``Forbidden.``);
* ``"filter"``: a listing that silently leaves the rows out (an empty list).

``{transition}`` in an action is filled in by the handler (a build's ``start``/``stop``/``delete``).
Routes absent from the table need no scope (``/api/v2/buildinfo``, ``/api/v2/users/first``, …).
Scopes are enforced from generation G4 on; earlier generations minted unrestricted keys.
"""

from __future__ import annotations

from typing import Literal

Denial = Literal["403", "404", "filter"]
Need = tuple[str, str, Denial]

ROUTE_PERMISSIONS: dict[tuple[str, str], tuple[Need, ...]] = {
    ("GET", "/api/v2/users/{user}"): (("user", "read", "404"),),
    ("HEAD", "/api/v2/users/{user}"): (("user", "read", "404"),),
    ("GET", "/api/v2/users/{user}/organizations"): (
        ("user", "read", "404"),
        ("organization_member", "read", "filter"),
    ),
    ("POST", "/api/v2/users/{user}/keys/tokens"): (("api_key", "create", "403"),),
    ("GET", "/api/v2/templates"): (("template", "read", "filter"),),
    ("GET", "/api/v2/organizations/{org}/templates"): (("template", "read", "filter"),),
    ("GET", "/api/v2/templates/{id}"): (("template", "read", "404"),),
    ("DELETE", "/api/v2/templates/{id}"): (("template", "read", "404"), ("template", "delete", "403")),
    ("GET", "/api/v2/workspaces"): (("workspace", "read", "filter"),),
    ("GET", "/api/v2/workspaces/{id}"): (("workspace", "read", "404"),),
    ("GET", "/api/v2/users/{user}/workspace/{name}"): (("workspace", "read", "404"),),
    ("POST", "/api/v2/users/{user}/workspaces"): (
        ("template", "read", "403"),
        ("workspace", "create", "403"),
    ),
    ("POST", "/api/v2/organizations/{org}/members/{user}/workspaces"): (
        ("template", "read", "403"),
        ("workspace", "create", "403"),
    ),
    ("GET", "/api/v2/workspaces/{id}/builds"): (("workspace", "read", "404"),),
    ("POST", "/api/v2/workspaces/{id}/builds"): (
        ("workspace", "read", "404"),
        ("workspace", "{transition}", "403"),
    ),
    ("GET", "/api/v2/workspacebuilds/{id}"): (("workspace", "read", "404"),),
    ("PATCH", "/api/v2/workspacebuilds/{id}/cancel"): (
        ("workspace", "read", "404"),
        ("workspace", "update", "403"),
    ),
    ("GET", "/api/v2/workspacebuilds/{id}/logs"): (("workspace", "read", "404"),),
    # Deployment administration: internal resources no external scope names, so only coder:all.
    ("GET", "/api/v2/oauth2-provider/settings"): (("deployment_config", "read", "403"),),
    ("PUT", "/api/v2/oauth2-provider/settings"): (("deployment_config", "update", "403"),),
    ("GET", "/api/v2/oauth2-provider/apps"): (("oauth2_app", "read", "403"),),
    ("POST", "/api/v2/oauth2-provider/apps"): (("oauth2_app", "create", "403"),),
    ("GET", "/api/v2/oauth2-provider/apps/{app}"): (("oauth2_app", "read", "403"),),
    ("PUT", "/api/v2/oauth2-provider/apps/{app}"): (("oauth2_app", "update", "403"),),
    ("DELETE", "/api/v2/oauth2-provider/apps/{app}"): (("oauth2_app", "delete", "403"),),
    ("GET", "/api/v2/oauth2-provider/apps/{app}/secrets"): (("oauth2_app_secret", "read", "403"),),
    ("POST", "/api/v2/oauth2-provider/apps/{app}/secrets"): (("oauth2_app_secret", "create", "403"),),
    ("DELETE", "/api/v2/oauth2-provider/apps/{app}/secrets/{secretID}"): (
        ("oauth2_app_secret", "delete", "403"),
    ),
}


def needs(method: str, route: str) -> tuple[Need, ...]:
    """The permissions a route checks (empty: none)."""
    return ROUTE_PERMISSIONS.get((method.upper(), route), ())
