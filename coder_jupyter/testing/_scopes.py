"""OAuth scopes of the fake (CODER_BEHAVIOR.md §12): catalog, aliases, composites, coverage, negotiation.

A scope *name* expands to a set of site-level *permissions* ``(resource, action)``; ``"*"`` is a
wildcard in either place (``coder:all`` is ``("*", "*")``). Everything here is pure: no state,
no HTTP. :func:`negotiate` is the authorize endpoint's decision, :func:`covers` the RBAC check
the REST API runs against an access token's scope.
"""

from __future__ import annotations

from collections.abc import Iterable

Permission = tuple[str, str]

_LOW_LEVEL: dict[str, tuple[str, ...]] = {
    "workspace": ("read", "create", "update", "delete", "ssh", "start", "stop", "application_connect"),
    "template": ("read", "create", "update", "delete", "use"),
    "api_key": ("read", "create", "update", "delete"),
    "file": ("read", "create"),
    "user": ("read", "read_personal", "update_personal"),
    "user_secret": ("read", "create", "update", "delete"),
    "user_skill": ("read", "create", "update", "delete"),
    "organization": ("read", "update", "delete"),
}

#: Composite scopes and their site-level expansion (``coderd/rbac/scopes.go``, newest copy).
COMPOSITES: dict[str, frozenset[Permission]] = {
    "coder:all": frozenset({("*", "*")}),
    # Exact permission set unconfirmed in the reference: the legacy "workspace apps only" scope.
    "coder:application_connect": frozenset({("workspace", "application_connect")}),
    "coder:workspaces.create": frozenset(
        {("template", "read"), ("template", "use"), ("organization_member", "read")}
        | {("workspace", a) for a in ("start", "stop", "create", "update", "read")}
    ),
    "coder:workspaces.operate": frozenset(
        {("template", "read"), ("organization_member", "read")}
        | {("workspace", a) for a in ("start", "stop", "read", "update")}
    ),
    "coder:workspaces.delete": frozenset(
        {("template", "read"), ("template", "use"), ("workspace", "read"), ("workspace", "delete")}
        | {("organization_member", "read")}
    ),
    "coder:workspaces.access": frozenset(
        {("template", "read"), ("organization_member", "read")}
        | {("workspace", a) for a in ("read", "ssh", "application_connect")}
    ),
    "coder:templates.build": frozenset(
        {("template", "read"), ("file", "create"), ("file", "read"), ("provisioner_jobs", "read")}
    ),
    "coder:templates.author": frozenset(
        {("template", a) for a in ("read", "create", "update", "delete", "view_insights")}
        | {("file", "create"), ("file", "read")}
    ),
    "coder:apikeys.manage_self": frozenset({("api_key", a) for a in ("read", "create", "update", "delete")}),
}

#: Accepted spellings rewritten to their canonical name (never published).
ALIASES = {"all": "coder:all", "application_connect": "coder:application_connect"}


def _build_catalog() -> tuple[str, ...]:
    names = set(COMPOSITES)
    for resource, actions in _LOW_LEVEL.items():
        names.update(f"{resource}:{action}" for action in actions)
        names.add(f"{resource}:*")
    names.update({"chat_model_config:read", "chat_model_config:share"})
    return tuple(sorted(names))


#: The external catalog (``rbac.ExternalScopeNames()``, sorted): the "always present" set of §12.
SCOPE_CATALOG: tuple[str, ...] = _build_catalog()
_CATALOG_SET = frozenset(SCOPE_CATALOG)

#: The scope every unrestricted credential carries (user sessions, pre-G4 OAuth tokens).
UNRESTRICTED = "coder:all"


class ScopeRejected(ValueError):
    """A requested scope is refused; ``str(exc)`` is the ``error_description`` Coder sends."""


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def in_catalog(name: str) -> bool:
    return canonical(name) in _CATALOG_SET


def canonical_list(value: str) -> list[str]:
    """Split, rewrite aliases and drop duplicates, keeping first-seen order."""
    out: list[str] = []
    for name in value.split():
        name = canonical(name)
        if name not in out:
            out.append(name)
    return out


def expand(name: str) -> frozenset[Permission]:
    """Site-level permissions of one (canonical or alias) name; empty for unknown names."""
    name = canonical(name)
    if name in COMPOSITES:
        return COMPOSITES[name]
    resource, sep, action = name.partition(":")
    return frozenset({(resource, action)}) if sep and resource and action else frozenset()


def expand_all(names: Iterable[str]) -> frozenset[Permission]:
    perms: set[Permission] = set()
    for name in names:
        perms |= expand(name)
    return frozenset(perms)


def permits(granted: frozenset[Permission], needed: Permission) -> bool:
    """Does a grant allow one permission (wildcards in the grant count)?"""
    return bool({needed, (needed[0], "*"), ("*", "*")} & granted)


def covers(allowed: Iterable[str], requested: str) -> bool:
    """``rbac.ScopesCover`` for one requested name: a wildcard only by a wildcard grant."""
    granted = expand_all(allowed)
    wanted = expand(requested)
    if not wanted:
        return False
    for resource, action in wanted:
        if resource == "*" and ("*", "*") not in granted:
            return False
        if action == "*" and not ({(resource, "*"), ("*", "*")} & granted):
            return False
        if not permits(granted, (resource, action)):
            return False
    return True


_NO_GRANTABLE = (
    "none of the scopes registered for this app are supported by this deployment; "
    "change the app's registered scopes to supported ones"
)


def unknown_scope(name: str) -> str:
    return f'"{name}": unknown or unsupported scope'


def negotiate(allowlist: str, requested: str) -> str:
    """The authorize endpoint's ``negotiateScope``: the granted scope, or :class:`ScopeRejected`.

    ``allowlist`` empty means "no allowlist" (unrestricted). The result is canonical and never empty.
    """
    allow = canonical_list(allowlist) if allowlist.strip() else []
    configured = bool(allowlist)
    wanted = requested.split()
    if not wanted:
        if not configured:
            return UNRESTRICTED
        offered = [n for n in allow if n in _CATALOG_SET]
        if not offered:
            raise ScopeRejected(_NO_GRANTABLE)
        return " ".join(offered)
    for name in wanted:
        if not in_catalog(name):
            raise ScopeRejected(unknown_scope(name))
        if configured and not covers(allow, name):
            raise ScopeRejected(f'"{name}": scope requests permissions beyond this app\'s allowed scopes')
    return " ".join(canonical_list(requested))


def narrow_on_refresh(grant: str, requested: str) -> str:
    """A refresh's ``scope``: a subset (by coverage) of the original grant, or :class:`ScopeRejected`."""
    if not requested.split():
        return grant
    for name in requested.split():
        if not in_catalog(name):
            raise ScopeRejected(unknown_scope(name))
        if not covers(grant.split(), name):
            raise ScopeRejected(
                f'"{name}": scope requests permissions beyond the scope originally granted; '
                "a refresh cannot widen a grant, so authorize again to obtain a broader one"
            )
    return " ".join(canonical_list(requested))


def stale_against(allowlist: str, grant: str) -> str | None:
    """At code redemption: the first granted name the *current* allowlist no longer covers."""
    if not allowlist:
        return None
    allow = canonical_list(allowlist)
    for name in grant.split():
        if not covers(allow, name):
            return name
    return None


def filter_allowlist(value: str) -> str:
    """DCR: keep only offered names (canonical, deduplicated); :class:`ScopeRejected` if none is left."""
    kept = [n for n in canonical_list(value) if n in _CATALOG_SET]
    if not kept:
        raise ScopeRejected("invalid scope: none of the requested scopes is supported by this deployment")
    return " ".join(kept)


def check_list_size(value: str) -> None:
    """``ValidateOAuth2ScopeList``: at most 4096 bytes and 100 names."""
    if len(value.encode()) > 4096:
        raise ScopeRejected("scope must be at most 4096 bytes")
    if len(value.split()) > 100:
        raise ScopeRejected("scope must list at most 100 names")
