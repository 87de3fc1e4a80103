"""OAuth scopes as Coder understands them: names, what they grant, what we ask for, what each call needs.

Pure functions over strings; nothing here touches the network or the disk. References are to
``CODER_BEHAVIOR.md`` (the reference): §12 (catalog, aliases, composites, negotiation by
coverage, "Scopes a notebook client needs"), §7 G4 (how a missing scope shows) and §13 (what the
VS Code extension asks for and assumes).

Vocabulary:

* a **scope name** is what goes on the wire (``coder:workspaces.operate``, ``workspace:read``);
* a **permission** is what RBAC checks, ``resource:action`` (``workspace:start``). A scope name
  *expands* to a set of permissions; ``resource:*`` is a wildcard on one resource and
  :data:`ALL` stands for ``coder:all``, everything the user can do.

Typical use::

    wanted = parse(config_value) or DEFAULT_SCOPES
    request = negotiate_request(wanted, metadata.scopes_supported)  # warn about request.dropped
    ...                                                             # authorize with request.to_send
    granted = granted_scope(token_response.scope, request.to_send)
    describe(granted)          # "workspaces: read, create, ...; templates: read, use; ..."
    missing_for("start", granted)  # None, or what to add
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from ..errors import ConfigurationError

__all__ = [
    "ALIASES",
    "ALL",
    "COMPOSITES",
    "DEFAULT_SCOPES",
    "DEFAULT_SCOPE_REASONS",
    "NEEDS",
    "Operation",
    "Requirement",
    "ScopeRequest",
    "canonical",
    "covers",
    "describe",
    "expand",
    "granted_scope",
    "missing_for",
    "negotiate_request",
    "parse",
]

#: The permission ``coder:all`` expands to: every action on every resource (Coder's
#: ``ResourceWildcard`` with ``WildcardSymbol``). Covers everything; only it covers it.
ALL = "*:*"

#: Spellings Coder accepts and stores canonically (§12 "Aliases").
ALIASES: Mapping[str, str] = {
    "all": "coder:all",
    "application_connect": "coder:application_connect",
}


def _perms(spec: Mapping[str, str]) -> frozenset[str]:
    return frozenset(f"{res}:{action}" for res, actions in spec.items() for action in actions.split())


#: Composite scope names and the site-level permissions they expand to (§12 "Composite
#: expansions", ``coderd/rbac/scopes.go``). ``organization_member:read`` and
#: ``provisioner_jobs:read`` are internal permissions: no low-level name can request them, so a
#: workspace build (which needs ``organization_member:read``) needs a composite.
COMPOSITES: Mapping[str, frozenset[str]] = {
    "coder:all": frozenset({ALL}),
    # §12 calls the set "unconfirmed"; the newer stored copies of Coder's builtinScopes
    # (coderd/rbac/scopes.go) give this one (older ones: workspace_application_connect:create).
    "coder:application_connect": frozenset({"workspace:application_connect"}),
    "coder:workspaces.create": _perms({"template": "read use", "workspace": "start stop create update read",
                                       "organization_member": "read"}),
    "coder:workspaces.operate": _perms({"template": "read", "workspace": "start stop read update",
                                        "organization_member": "read"}),
    "coder:workspaces.delete": _perms({"template": "read use", "workspace": "read delete",
                                       "organization_member": "read"}),
    "coder:workspaces.access": _perms({"template": "read", "organization_member": "read",
                                       "workspace": "read ssh application_connect"}),
    "coder:templates.build": _perms({"template": "read", "file": "create read", "provisioner_jobs": "read"}),
    "coder:templates.author": _perms({"template": "read create update delete view_insights",
                                      "file": "create read"}),
    "coder:apikeys.manage_self": _perms({"api_key": "read create update delete"}),
}

#: What a login asks for when nobody chose otherwise, and why (§12 "Scopes a notebook client
#: needs"; the newer VS Code extension asks for the same kind of set, §13). Together they cover
#: every call the ``coder`` object offers (:data:`NEEDS`); ``coder:all`` is never asked for
#: unless chosen.
DEFAULT_SCOPE_REASONS: Mapping[str, str] = {
    "coder:workspaces.create": "list, read, create, start, stop and restart workspaces, follow their "
                               "builds and logs, cancel a build, read templates (includes "
                               "coder:workspaces.operate)",
    "coder:workspaces.delete": "delete workspaces",
    "coder:workspaces.access": "let the Coder CLI sharing this login reach workspaces (coder ssh, "
                               "port-forward, apps)",
    "user:read": "read your own account (coder.me(); without it Coder answers 404)",
    "user:read_personal": "let `coder start` read your external-auth links, as the VS Code extension does",
    "organization:read": "list your organizations (coder.organizations())",
}

#: The default request: :data:`DEFAULT_SCOPE_REASONS`' names, in that order.
DEFAULT_SCOPES: tuple[str, ...] = tuple(DEFAULT_SCOPE_REASONS)

_SEPARATORS = re.compile(r"[\s,]+")
#: What a scope name from the server may look like before we store or show it (Coder's are
#: ``resource:action`` in lower case; anything else, e.g. terminal escapes, is dropped).
_WELL_FORMED = re.compile(r"[A-Za-z0-9_.*:-]{1,100}")


def canonical(name: str) -> str:
    """``name`` as Coder stores it: ``all`` → ``coder:all``, ``application_connect`` →
    ``coder:application_connect`` (§12 "Aliases"); any other name unchanged."""
    return ALIASES.get(name, name)


def parse(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Scope names from a configured value or a token response, canonical, deduplicated, in order.

    Accepts the forms people write: ``CODER_OAUTH_SCOPES="coder:workspaces.operate user:read"``,
    ``%coder login --scopes coder:workspaces.operate,user:read``, a list from a config file, and
    the space-separated ``scope`` of a token response (RFC 6749 §3.3). Names are not checked
    against any catalog here: :func:`negotiate_request` drops what the deployment does not offer.

    >>> parse("all, workspace:read  all")
    ('coder:all', 'workspace:read')
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    names = (canonical(n) for item in items for n in _SEPARATORS.split(item) if n)
    return tuple(dict.fromkeys(names))


def expand(names: str | Iterable[str]) -> frozenset[str]:
    """The permissions that scope ``names`` grant (§12 "Composite expansions").

    A composite expands to its table entry, ``coder:all`` to :data:`ALL`; any other name
    (``workspace:read``, ``workspace:*``, or one this table does not know) is taken as the
    permission it spells.
    """
    perms: set[str] = set()
    for name in parse(names):
        perms |= COMPOSITES.get(name, {name})
    return frozenset(perms)


def _has(perms: frozenset[str], need: str) -> bool:
    if ALL in perms or need in perms:
        return True
    resource, _, action = need.partition(":")
    # A wildcard need (``workspace:*``) is covered only by that wildcard (or ALL), both tested above.
    return action != "*" and f"{resource}:*" in perms


def covers(granted: str | Iterable[str], needed: str | Iterable[str]) -> bool:
    """True if scope ``granted`` gives every permission scope ``needed`` gives (``rbac.ScopesCover``).

    Coverage compares expanded permissions, not names (§12 "Negotiation"): a composite covers
    its members, several granted names may share the work, ``coder:all`` covers everything, and
    a wildcard (``workspace:*``) is covered only by a wildcard grant.

    >>> covers("coder:workspaces.access", "workspace:ssh template:read")
    True
    >>> covers("coder:workspaces.access", "workspace:ssh workspace:delete")
    False
    """
    have = expand(granted)
    return all(_has(have, need) for need in expand(needed))


class ScopeRequest(NamedTuple):
    """What :func:`negotiate_request` decided.

    ``to_send`` is the ``scope`` to put on the authorize request (empty: send no ``scope``);
    ``dropped`` the wanted names this deployment does not offer, for the caller to warn about.
    """

    to_send: tuple[str, ...]
    dropped: tuple[str, ...]


def negotiate_request(wanted: str | Iterable[str], scopes_supported: Iterable[str]) -> ScopeRequest:
    """The wanted scope, narrowed to what this deployment offers (its ``scopes_supported``).

    * A name outside ``scopes_supported`` is dropped and reported, never sent: Coder refuses a
      whole request for one unknown name (``invalid_scope``, §12).
    * No ``scopes_supported`` at all means a deployment older than scopes (G1, or G2 without
      it): nothing is sent, and the deployment decides (``coder:all``, §12 table).
    * ``coder:all`` is sent like any other name when it is wanted: a choice, never a default.
    * Nothing wanted: nothing is sent (the app's whole allowlist, or ``coder:all``).

    The caller must still expect ``invalid_scope``: an admin app's allowlist may not cover the
    request, and the client cannot see that allowlist.

    Raises:
        ConfigurationError: names were wanted but the deployment offers none of them. Sending no
            scope instead would silently ask for the app's whole allowlist or ``coder:all``.
    """
    names = parse(wanted)
    offered = set(parse(scopes_supported))
    if not offered:
        return ScopeRequest((), ())
    to_send = tuple(n for n in names if n in offered)
    dropped = tuple(n for n in names if n not in offered)
    if names and not to_send:
        raise ConfigurationError(
            f"This Coder deployment offers none of the requested OAuth scopes ({' '.join(dropped)}). "
            "Choose scopes from its list (GET /api/v2/auth/scopes), or ask for full access with "
            '--scopes "coder:all".'
        )
    return ScopeRequest(to_send, dropped)


def granted_scope(token_response_scope: str | None, requested: str | Iterable[str]) -> tuple[str, ...]:
    """The scope a token was granted, as canonical names.

    The token response's ``scope`` (RFC 6749 §5.1; G4 always sends it, §5). When it is missing
    or empty, the requested scope is assumed, as the VS Code extension does (§13). When nothing
    was requested either, the token is unrestricted: ``coder:all`` (§12 table; G3 and older
    never restrict a key). Names that are not well formed (control characters, markup, over 100
    characters) are dropped: the value is stored and shown.
    """
    answered = tuple(n for n in parse(token_response_scope) if _WELL_FORMED.fullmatch(n))
    return answered or parse(requested) or ("coder:all",)


Operation = Literal["me", "user", "organizations", "templates", "template", "workspaces", "workspace",
                    "build", "build_logs", "create", "start", "stop", "restart", "delete", "cancel"]


@dataclass(frozen=True)
class Requirement:
    """What one client operation needs: ``permissions`` the API checks, ``scopes`` that grant them.

    ``scopes`` are the narrowest catalog names that grant all of ``permissions`` (a composite
    where a low-level name would not be enough).
    """

    operation: Operation
    permissions: tuple[str, ...]
    scopes: tuple[str, ...]


def _need(operation: Operation, permissions: str, scopes: str) -> tuple[Operation, Requirement]:
    return operation, Requirement(operation, tuple(permissions.split()), tuple(scopes.split()))


# Build transitions (start, stop, delete) and creation need ``organization_member:read``, which
# only the composites carry (§12 "Tokens", troubleshooting.md). Reads answer 404 or an empty
# list without their permission (§7 G4); writes answer 403.
_BUILD = "organization_member:read"

#: For each ``coder`` operation, what its calls need (§8 routes, §7 G4, §12). Sources:
#: ``me`` → ``user:read`` (§12: 404 without it); ``cancel`` → ``workspace:update`` (Coder's
#: ``patchCancelWorkspaceBuild`` authorizes ``ActionUpdate``, 404 without it). ``templates``,
#: ``template``, ``build_logs`` and ``organizations`` are inferred from the resource each route
#: reads (§12 calls template lists and build logs **unconfirmed**).
NEEDS: Mapping[Operation, Requirement] = dict([
    _need("me", "user:read", "user:read"),
    _need("user", "user:read", "user:read"),
    _need("organizations", "organization:read", "organization:read"),
    _need("templates", "template:read", "template:read"),
    _need("template", "template:read", "template:read"),
    _need("workspaces", "workspace:read", "workspace:read"),
    _need("workspace", "workspace:read", "workspace:read"),
    _need("build", "workspace:read", "workspace:read"),
    _need("build_logs", "workspace:read", "workspace:read"),
    _need("create", f"workspace:create template:read template:use {_BUILD}", "coder:workspaces.create"),
    _need("start", f"workspace:start {_BUILD}", "coder:workspaces.operate"),
    _need("stop", f"workspace:stop {_BUILD}", "coder:workspaces.operate"),
    _need("restart", f"workspace:stop workspace:start {_BUILD}", "coder:workspaces.operate"),
    _need("delete", f"workspace:delete {_BUILD}", "coder:workspaces.delete"),
    _need("cancel", "workspace:update", "coder:workspaces.operate"),
])


def missing_for(operation: Operation, granted: str | Iterable[str]) -> Requirement | None:
    """What scope ``granted`` lacks for ``operation``: ``None`` if nothing, else the missing part.

    The result lists only the permissions ``granted`` does not cover and the scopes (from
    :data:`NEEDS`) that grant them: the material of an :class:`~coder_jupyter.errors.InsufficientScopeError`.
    Use it to explain a 403, a 404 or an empty list, not to refuse a call before asking: on G3
    and older a token can do more than its stored scope says (§12 "Tokens").
    """
    need = NEEDS[operation]
    have = expand(granted)
    missing = tuple(p for p in need.permissions if not _has(have, p))
    if not missing:
        return None
    scopes = tuple(s for s in need.scopes if any(_has(expand(s), p) for p in missing))
    return Requirement(operation, missing, scopes)


# describe(): one area per resource, in this order; each group of actions shows as one word or a
# "/"-joined pair. organization_member:read is left out: every workspace composite carries it
# only so that builds can run, and it cannot be asked for by name.
_AREAS: tuple[tuple[str, str, tuple[tuple[tuple[str, str], ...], ...]], ...] = (
    ("workspace", "workspaces", ((("read", "read"),), (("create", "create"),), (("update", "update"),),
                                 (("start", "start"), ("stop", "stop")), (("delete", "delete"),),
                                 (("ssh", "ssh"), ("application_connect", "apps")))),
    ("template", "templates", ((("read", "read"),), (("use", "use"),), (("create", "create"),),
                               (("update", "edit"),), (("delete", "delete"),),
                               (("view_insights", "insights"),))),
    ("user", "account", ((("read", "read"),), (("read_personal", "personal data"),),
                         (("update_personal", "edit personal data"),))),
    ("organization", "organizations", ((("read", "read"),), (("update", "edit"),), (("delete", "delete"),))),
    ("file", "files", ((("read", "read"),), (("create", "upload"),))),
    ("api_key", "API keys", ((("read", "read"),), (("create", "create"),), (("update", "edit"),),
                             (("delete", "delete"),))),
)
_HIDDEN = frozenset({"organization_member:read"})


def describe(granted: str | Iterable[str]) -> str:
    """A short human list of what scope ``granted`` allows, in a stable order.

    >>> describe("coder:workspaces.operate user:read")
    'workspaces: read, update, start/stop; templates: read; account: read'
    >>> describe("coder:all")
    'full access to your account'

    A wildcard shows as ``all``; resources and actions this table does not name follow, sorted,
    as Coder spells them.
    """
    perms = expand(granted) - _HIDDEN
    if ALL in perms:
        return "full access to your account"
    by_resource: dict[str, set[str]] = {}
    for perm in perms:
        resource, _, action = perm.partition(":")
        by_resource.setdefault(resource, set()).add(action or resource)
    parts = []
    for resource, title, groups in _AREAS:
        actions = by_resource.pop(resource, set())
        if "*" in actions:
            words = ["all"]
        else:
            words = ["/".join(w for a, w in group if a in actions) for group in groups]
            known = {a for group in groups for a, _ in group}
            words += sorted(actions - known)
        if words := [w for w in words if w]:
            parts.append(f"{title}: {', '.join(words)}")
    for resource, actions in sorted(by_resource.items()):
        parts.append(f"{resource}: {'all' if '*' in actions else ', '.join(sorted(actions))}")
    return "; ".join(parts) or "no access"
