"""Scopes, sans-IO: Coder's composites and coverage (reference §12), the default request,
negotiation against ``scopes_supported``, the granted scope (§13), what each call needs (§7 G4),
the human description, and InsufficientScopeError."""

from __future__ import annotations

import doctest
import inspect
import re

import httpx
import pytest

from coder_jupyter import errors
from coder_jupyter._oauth import scopes
from coder_jupyter._oauth.scopes import (
    ALL,
    COMPOSITES,
    DEFAULT_SCOPE_REASONS,
    DEFAULT_SCOPES,
    NEEDS,
    Requirement,
    canonical,
    covers,
    describe,
    expand,
    granted_scope,
    missing_for,
    negotiate_request,
    parse,
)
from coder_jupyter.client import Coder
from coder_jupyter.errors import (
    CoderAPIError,
    CoderError,
    ConfigurationError,
    InsufficientScopeError,
    PermissionDeniedError,
)


def _each(resource: str, *actions: str) -> tuple[str, ...]:
    return tuple(f"{resource}:{action}" for action in actions)


# §12 "External scope names, newest catalog": the names every G4 catalog has.
G4_CATALOG = (
    "coder:all", "coder:application_connect", "coder:workspaces.create", "coder:workspaces.operate",
    "coder:workspaces.delete", "coder:workspaces.access", "coder:templates.build", "coder:templates.author",
    "coder:apikeys.manage_self",
    *_each("workspace", "read", "create", "update", "delete", "ssh", "start", "stop", "application_connect",
           "*"),
    *_each("template", "read", "create", "update", "delete", "use", "*"),
    *_each("api_key", "read", "create", "update", "delete", "*"),
    *_each("chat_model_config", "read", "share"),
    *_each("file", "read", "create", "*"),
    *_each("user", "read", "read_personal", "update_personal", "*"),
    *_each("user_secret", "read", "create", "update", "delete", "*"),
    *_each("user_skill", "read", "create", "update", "delete", "*"),
    *_each("organization", "read", "update", "delete", "*"),
)

ACCESS = "coder:workspaces.access"
TOKEN = "abcdef1234-0123456789abcdefghijkl"  # the shape of a Coder API key, not a real one


# --------------------------------------------------------------------------- names


def test_aliases_become_the_names_coder_stores() -> None:
    assert canonical("all") == "coder:all"
    assert canonical("application_connect") == "coder:application_connect"
    assert canonical("workspace:read") == "workspace:read"
    assert parse("all application_connect coder:all") == ("coder:all", "coder:application_connect")


@pytest.mark.parametrize(("value", "expected"), [
    ("coder:workspaces.operate user:read", ("coder:workspaces.operate", "user:read")),
    ("coder:workspaces.operate,user:read", ("coder:workspaces.operate", "user:read")),
    (" coder:workspaces.operate , user:read,\n\tuser:read ", ("coder:workspaces.operate", "user:read")),
    ("user:read workspace:read user:read", ("user:read", "workspace:read")),
    (["user:read", "workspace:read template:read"], ("user:read", "workspace:read", "template:read")),
    ("", ()),
    (" , ", ()),
    (None, ()),
])
def test_scope_strings_from_the_environment_and_the_magic_parse_to_names(
        value: str | list[str] | None, expected: tuple[str, ...]) -> None:
    assert parse(value) == expected


# --------------------------------------------------------------------------- expansion and coverage


def test_the_composites_are_the_reference_table() -> None:
    # §12 "Composite expansions", row by row.
    assert COMPOSITES["coder:workspaces.create"] == {
        "template:read", "template:use", "workspace:start", "workspace:stop", "workspace:create",
        "workspace:update", "workspace:read", "organization_member:read"}
    assert COMPOSITES["coder:workspaces.operate"] == {
        "template:read", "workspace:start", "workspace:stop", "workspace:read", "workspace:update",
        "organization_member:read"}
    assert COMPOSITES["coder:workspaces.delete"] == {
        "template:read", "template:use", "workspace:read", "workspace:delete", "organization_member:read"}
    assert COMPOSITES[ACCESS] == {
        "template:read", "organization_member:read", "workspace:read", "workspace:ssh",
        "workspace:application_connect"}
    assert COMPOSITES["coder:templates.build"] == {
        "template:read", "file:create", "file:read", "provisioner_jobs:read"}
    assert COMPOSITES["coder:templates.author"] == {
        "template:read", "template:create", "template:update", "template:delete", "template:view_insights",
        "file:create", "file:read"}
    assert COMPOSITES["coder:apikeys.manage_self"] == {
        "api_key:read", "api_key:create", "api_key:update", "api_key:delete"}
    assert COMPOSITES["coder:all"] == {ALL}
    assert set(COMPOSITES) <= set(G4_CATALOG)


def test_expansion_of_low_level_wildcard_alias_and_composite_names() -> None:
    assert expand("workspace:read") == {"workspace:read"}
    assert expand("workspace:*") == {"workspace:*"}
    assert expand("all") == {ALL}
    assert expand("coder:workspaces.access template:use") == COMPOSITES[ACCESS] | {"template:use"}
    assert expand(()) == frozenset()


@pytest.mark.parametrize(("request_", "granted"), [
    ("workspace:ssh", True),
    ("workspace:ssh template:read", True),
    (ACCESS, True),
    ("template:update", False),
    ("workspace:*", False),
    ("workspace:ssh workspace:delete", False),
    ("openid", False),
])
def test_coverage_gives_the_reference_examples_for_an_access_allowlist(request_: str, granted: bool) -> None:
    # §12 "Example for allowlist coder:workspaces.access"; a refused request is refused whole.
    assert covers(ACCESS, request_) is granted


def test_an_omitted_request_sends_nothing_and_records_the_allowlist_coder_grants() -> None:
    # §12 example, first row: omitted → coder:workspaces.access (the token response says so, §5 G4).
    assert negotiate_request((), G4_CATALOG) == ((), ())
    assert granted_scope(ACCESS, ()) == (ACCESS,)


def test_coverage_compares_permissions_not_names() -> None:
    assert covers("coder:workspaces.create", "coder:workspaces.operate")  # create ⊇ operate
    assert not covers("coder:workspaces.operate", "coder:workspaces.create")
    assert covers("coder:workspaces.create coder:workspaces.delete", "workspace:create workspace:delete")
    assert covers("workspace:start workspace:stop", "workspace:stop")
    assert covers("workspace:*", "workspace:delete workspace:ssh")
    assert not covers("template:*", "workspace:read")
    # A wildcard need: only a wildcard grant (or coder:all) covers it, never a list of every action.
    every_action = _each("workspace", "read", "create", "update", "delete", "ssh", "start", "stop",
                         "application_connect")
    assert not covers(every_action, "workspace:*")
    assert covers("workspace:*", "workspace:*")
    # coder:all covers everything, even names this table does not know; nothing else covers it.
    assert covers("coder:all", " ".join(G4_CATALOG) + " workspace_execution:ssh")
    assert not covers(" ".join(n for n in G4_CATALOG if n != "coder:all"), "coder:all")
    assert covers("user:read", ())


# --------------------------------------------------------------------------- default request


def test_the_default_request_is_the_leads_narrow_set_of_catalog_names() -> None:
    assert DEFAULT_SCOPES == ("coder:workspaces.create", "coder:workspaces.delete", ACCESS,
                              "user:read", "user:read_personal", "organization:read")
    assert set(DEFAULT_SCOPES) <= set(G4_CATALOG)
    assert "coder:all" not in DEFAULT_SCOPES
    assert not covers(DEFAULT_SCOPES, "coder:all")
    assert all(DEFAULT_SCOPE_REASONS[name].strip() for name in DEFAULT_SCOPES)


@pytest.mark.parametrize("operation", sorted(NEEDS))
def test_the_default_request_covers_every_operation(operation: scopes.Operation) -> None:
    assert covers(DEFAULT_SCOPES, NEEDS[operation].permissions)
    assert missing_for(operation, DEFAULT_SCOPES) is None


@pytest.mark.parametrize("operation", sorted(NEEDS))
def test_each_need_names_catalog_scopes_that_grant_it(operation: scopes.Operation) -> None:
    need = NEEDS[operation]
    assert need.operation == operation
    assert need.permissions and need.scopes
    assert set(need.scopes) <= set(G4_CATALOG)
    assert covers(need.scopes, need.permissions)


# What each public method of the `coder` object does, in NEEDS' words. A new method fails this test
# until it is given a row in NEEDS (or is listed as needing no login).
_METHOD_OPERATIONS = {
    "me": "me", "user": "user", "organizations": "organizations", "templates": "templates",
    "template": "template", "workspaces": "workspaces", "iter_workspaces": "workspaces",
    "workspaces_page": "workspaces",
    "workspace": "workspace", "build": "build", "build_logs": "build_logs", "wait": "build",
    "create_workspace": "create", "start": "start", "stop": "stop", "restart": "restart",
    "delete": "delete", "cancel": "cancel",
}
# buildinfo needs no login at all (§8); the others make no API call of their own.
_NO_SCOPE = {"buildinfo", "close", "wait_for_login", "await_login"}


def test_every_coder_method_has_a_need() -> None:
    public = {name for name, _ in inspect.getmembers(Coder, callable) if not name.startswith("_")}
    assert public - _NO_SCOPE == set(_METHOD_OPERATIONS)
    assert set(_METHOD_OPERATIONS.values()) == set(NEEDS)


# --------------------------------------------------------------------------- negotiation


def test_a_g4_deployment_is_sent_the_default_request_unchanged() -> None:
    assert negotiate_request(DEFAULT_SCOPES, G4_CATALOG) == (DEFAULT_SCOPES, ())


def test_names_the_catalog_lacks_are_dropped_and_reported_never_sent() -> None:
    catalog = [n for n in G4_CATALOG if n not in ("user:read", "organization:read")]
    request = negotiate_request(DEFAULT_SCOPES, catalog)
    assert request.to_send == ("coder:workspaces.create", "coder:workspaces.delete", ACCESS,
                               "user:read_personal")
    assert request.dropped == ("user:read", "organization:read")


def test_unknown_and_malformed_names_never_reach_the_request() -> None:
    wanted = 'workspace:read openid x&scope=coder:all "quoted" coder:workspaces.everything'
    to_send, dropped = negotiate_request(wanted, G4_CATALOG)
    assert to_send == ("workspace:read",)
    assert dropped == ("openid", "x&scope=coder:all", '"quoted"', "coder:workspaces.everything")


def test_a_deployment_without_scopes_supported_is_sent_no_scope() -> None:
    # G1, or G2 without scopes_supported (§12): the deployment predates scopes.
    assert negotiate_request(DEFAULT_SCOPES, ()) == ((), ())
    assert negotiate_request("coder:all", []) == ((), ())


def test_full_access_is_sent_only_when_chosen() -> None:
    assert negotiate_request("all", G4_CATALOG) == (("coder:all",), ())
    assert "coder:all" not in negotiate_request(DEFAULT_SCOPES, G4_CATALOG).to_send


def test_the_catalog_is_read_in_its_published_or_aliased_spelling() -> None:
    assert negotiate_request("coder:all", ["all", "workspace:read"]).to_send == ("coder:all",)


def test_wanting_only_names_the_deployment_lacks_is_an_error_not_a_silent_full_grant() -> None:
    # Sending no scope instead would be granted the app's whole allowlist, or coder:all.
    none_offered = r"offers none of the requested OAuth scopes \(openid x:y\)"
    with pytest.raises(ConfigurationError, match=none_offered) as info:
        negotiate_request("openid x:y", G4_CATALOG)
    assert isinstance(info.value, ValueError)
    assert 'coder:all' in str(info.value)


# --------------------------------------------------------------------------- granted scope


def test_the_granted_scope_is_the_token_responses() -> None:
    assert granted_scope("coder:workspaces.access user:read", DEFAULT_SCOPES) == (ACCESS, "user:read")
    assert granted_scope("workspace:ssh", ACCESS) == ("workspace:ssh",)  # a narrowed grant (§5 G4)


@pytest.mark.parametrize("response_scope", [None, "", " "])
def test_an_omitted_granted_scope_is_assumed_to_be_the_requested_one(response_scope: str | None) -> None:
    # §13: the VS Code extension assumes the requested scopes when the response has none.
    assert granted_scope(response_scope, DEFAULT_SCOPES) == DEFAULT_SCOPES
    assert granted_scope(response_scope, "all user:read") == ("coder:all", "user:read")


def test_nothing_requested_and_nothing_reported_is_an_unrestricted_token() -> None:
    assert granted_scope(None, ()) == ("coder:all",)


# --------------------------------------------------------------------------- what a call needs


def test_nothing_is_missing_for_a_covered_call() -> None:
    assert missing_for("workspaces", ACCESS) is None
    assert missing_for("start", "coder:workspaces.operate") is None
    assert all(missing_for(op, "coder:all") is None for op in NEEDS)


def test_a_read_without_its_permission_names_it() -> None:
    # §7 G4: GET /users/me without user:read answers 404.
    assert missing_for("me", ACCESS) == Requirement("me", ("user:read",), ("user:read",))
    assert missing_for("organizations", "user:read") == Requirement(
        "organizations", ("organization:read",), ("organization:read",))


def test_a_build_needs_a_composite_not_just_its_low_level_name() -> None:
    # §12 "Tokens": a build needs organization_member:read, which only composites carry.
    assert missing_for("start", "workspace:start workspace:read") == Requirement(
        "start", ("organization_member:read",), ("coder:workspaces.operate",))
    assert missing_for("delete", ACCESS) == Requirement(
        "delete", ("workspace:delete",), ("coder:workspaces.delete",))


def test_only_the_missing_permissions_are_reported() -> None:
    assert missing_for("create", "coder:workspaces.operate") == Requirement(
        "create", ("workspace:create", "template:use"), ("coder:workspaces.create",))


# --------------------------------------------------------------------------- describe


def test_the_default_grant_reads_as_a_short_list() -> None:
    assert describe(DEFAULT_SCOPES) == (
        "workspaces: read, create, update, start/stop, delete, ssh/apps; templates: read, use; "
        "account: read, personal data; organizations: read")


@pytest.mark.parametrize(("granted", "text"), [
    ("coder:all", "full access to your account"),
    ("all workspace:read", "full access to your account"),
    ("coder:workspaces.operate", "workspaces: read, update, start/stop; templates: read"),
    (ACCESS, "workspaces: read, ssh/apps; templates: read"),
    ("workspace:start workspace:ssh", "workspaces: start, ssh"),
    ("workspace:stop coder:application_connect", "workspaces: stop, apps"),
    ("workspace:* template:read", "workspaces: all; templates: read"),
    ("coder:templates.build", "templates: read; files: read, upload; provisioner_jobs: read"),
    ("user_secret:read workspace_execution:ssh workspace:frobnicate openid",
     "workspaces: frobnicate; openid: openid; user_secret: read; workspace_execution: ssh"),
    ("", "no access"),
])
def test_describe(granted: str, text: str) -> None:
    assert describe(granted) == text


def test_describe_does_not_depend_on_the_order_of_the_names() -> None:
    assert describe(reversed(DEFAULT_SCOPES)) == describe(DEFAULT_SCOPES)


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(scopes).failed == 0


# --------------------------------------------------------------------------- InsufficientScopeError


def _error(operation: scopes.Operation, granted: tuple[str, ...], **kwargs: object) -> InsufficientScopeError:
    need = missing_for(operation, granted)
    assert need is not None
    return InsufficientScopeError(f"{operation} workspace alice/dev", permissions=need.permissions,
                                  scopes=need.scopes, granted=granted, **kwargs)  # type: ignore[arg-type]


def test_insufficient_scope_is_a_permission_error_in_the_api_tree() -> None:
    err = _error("start", (ACCESS, "user:read"))
    assert isinstance(err, PermissionError)
    assert isinstance(err, PermissionDeniedError)
    assert isinstance(err, CoderAPIError)
    assert isinstance(err, CoderError)
    assert err.status == 403
    assert "InsufficientScopeError" in errors.__all__
    assert errors.__all__ == sorted(errors.__all__)


def test_insufficient_scope_names_the_permission_the_scope_and_the_fix() -> None:
    err = _error("start", (ACCESS, "user:read"))
    assert err.permissions == ("workspace:start",)
    assert err.scopes == ("coder:workspaces.operate",)
    assert err.granted == (ACCESS, "user:read")
    assert err.fix == '%coder login --scopes "coder:workspaces.access user:read coder:workspaces.operate"'
    assert str(err) == (
        "Your Coder login's scope does not allow start workspace alice/dev: it needs workspace:start, "
        "which coder:workspaces.operate grants.\n"
        'Log in again with a wider scope: %coder login --scopes "coder:workspaces.access user:read '
        'coder:workspaces.operate"')
    assert err.hint is not None
    assert err.fix in err.hint


def test_the_suggested_login_grants_what_was_missing() -> None:
    for operation in NEEDS:
        err = _error(operation, ("workspace:ssh",)) if missing_for(operation, ("workspace:ssh",)) else None
        if err is None:
            continue
        match = re.fullmatch(r'%coder login --scopes "([^"]*)"', err.fix)
        assert match is not None
        assert missing_for(operation, parse(match[1])) is None, operation
        assert covers(match[1], "workspace:ssh")  # what the login had is kept


def test_insufficient_scope_from_a_404_keeps_the_status_and_lists_several_permissions() -> None:
    err = InsufficientScopeError(permissions=["workspace:create", "template:use"],
                                 scopes=["coder:workspaces.create"], granted=[], status=404)
    assert err.status == 404
    assert "does not allow this call: it needs workspace:create and template:use, which " \
           "coder:workspaces.create grants" in str(err)
    assert err.fix == '%coder login --scopes "coder:workspaces.create"'


def test_insufficient_scope_carries_no_token() -> None:
    # Given the answer to a request that carried the access token
    url = "https://coder.example.com/api/v2/workspaces/w1/builds"
    request = httpx.Request("POST", f"{url}?coder_session_token={TOKEN}",
                            headers={"Coder-Session-Token": TOKEN, "Authorization": f"Bearer {TOKEN}"})
    response = httpx.Response(403, request=request, json={"message": "Forbidden."})
    # When
    err = _error("start", ("workspace:read",), response=response, server_message="Forbidden.",
                 method="POST", url=url)
    # Then
    for text in (str(err), repr(err), repr(err.args), err.fix, err.hint, err.url, repr(err.permissions),
                 repr(err.scopes), repr(err.granted)):
        assert TOKEN not in str(text)
