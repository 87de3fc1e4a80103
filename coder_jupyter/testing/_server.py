"""The :class:`FakeCoder` deployment: seeding, the tornado app, its thread and the Python knobs."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, get_args

import httpx
import tornado.httpserver
import tornado.netutil
import tornado.web

from . import _admin, _api, _control, _oauth, _registration, _session
from ._context import Context, Settings
from ._faults import Fault, FaultInjector, FaultKind, RateLimiter, RequestLog, RequestRecord
from ._http import NotFoundHandler
from ._state import (
    AppSecret,
    Clock,
    Generation,
    OAuthApp,
    State,
    User,
    generate_prefixed_secret,
    hash_secret,
    job_status,
    new_uuid,
    workspace_status,
)

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "fake-password-123"  # noqa: S105 - a documented test credential
SEEDED_TOKEN_TTL = 365 * 86400.0


@dataclass(frozen=True)
class FakeUser:
    """A user to seed. ``password`` defaults to the deployment's default password.

    Example: ``FakeCoder(users=[FakeUser("alice", workspaces=3), "bob"])``.
    """

    username: str
    password: str | None = None
    email: str | None = None
    owner: bool = False
    workspaces: int = 0


@dataclass(frozen=True)
class SeededUser:
    """A user that exists in the fake, with a long-lived ``session_token`` ready to use."""

    id: str
    username: str
    email: str
    password: str
    owner: bool
    session_token: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class OAuthClient:
    """Credentials of a pre-registered OAuth2 app (``client_secret`` is shown only here)."""

    client_id: str
    client_secret: str
    redirect_uri: str


def _routes(ctx: Context) -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    uuidish = r"([^/]+)"
    return [
        (r"/", _session.HomeHandler),
        (r"/login", _session.LoginPageHandler),
        (r"/\.well-known/oauth-authorization-server(/.*)?", _oauth.AuthorizationServerMetadataHandler),
        (r"/\.well-known/oauth-protected-resource(/.*)?", _oauth.ProtectedResourceMetadataHandler),
        (r"/oauth2/authorize", _oauth.AuthorizeHandler),
        (r"/oauth2/tokens", _oauth.TokensHandler),
        (r"/oauth2/revoke", _oauth.RevokeHandler),
        (r"/oauth2/register", _registration.RegisterHandler),
        (rf"/oauth2/clients/{uuidish}", _registration.ClientConfigurationHandler),
        (r"/api/v2/buildinfo", _api.BuildInfoHandler),
        (r"/api/v2/users/login", _session.PasswordLoginHandler),
        (r"/api/v2/users/first", _api.FirstUserHandler),
        (r"/api/v2/auth/scopes", _api.ScopesHandler),
        (rf"/api/v2/users/{uuidish}", _api.UserHandler),
        (rf"/api/v2/users/{uuidish}/organizations", _api.UserOrganizationsHandler),
        (rf"/api/v2/users/{uuidish}/keys/tokens", _api.UserTokensHandler),
        (rf"/api/v2/users/{uuidish}/workspace/{uuidish}", _api.UserWorkspaceByNameHandler),
        (rf"/api/v2/users/{uuidish}/workspaces", _api.CreateWorkspaceHandler),
        (
            rf"/api/v2/organizations/{uuidish}/members/{uuidish}/workspaces",
            _api.OrganizationCreateWorkspaceHandler,
        ),
        (r"/api/v2/templates", _api.TemplatesHandler),
        (rf"/api/v2/templates/{uuidish}", _api.TemplateHandler),
        (rf"/api/v2/organizations/{uuidish}/templates", _api.OrganizationTemplatesHandler),
        (r"/api/v2/workspaces", _api.WorkspacesHandler),
        (rf"/api/v2/workspaces/{uuidish}", _api.WorkspaceHandler),
        (rf"/api/v2/workspaces/{uuidish}/builds", _api.WorkspaceBuildsHandler),
        (rf"/api/v2/workspacebuilds/{uuidish}", _api.WorkspaceBuildHandler),
        (rf"/api/v2/workspacebuilds/{uuidish}/cancel", _api.CancelBuildHandler),
        (rf"/api/v2/workspacebuilds/{uuidish}/logs", _api.BuildLogsHandler),
        (r"/api/v2/oauth2-provider/settings", _admin.ProviderSettingsHandler),
        (r"/api/v2/oauth2-provider/apps", _admin.AppsHandler),
        (rf"/api/v2/oauth2-provider/apps/{uuidish}", _admin.AppHandler),
        (rf"/api/v2/oauth2-provider/apps/{uuidish}/secrets", _admin.AppSecretsHandler),
        (rf"/api/v2/oauth2-provider/apps/{uuidish}/secrets/{uuidish}", _admin.AppSecretHandler),
        (r"/__fake__/?", _control.ControlIndexHandler),
        (r"/__fake__/settings", _control.ControlSettingsHandler),
        (r"/__fake__/clock", _control.ControlClockHandler),
        (r"/__fake__/faults", _control.ControlFaultsHandler),
        (r"/__fake__/faults/([0-9]+)", _control.ControlFaultsHandler),
        (r"/__fake__/requests", _control.ControlRequestsHandler),
        (r"/__fake__/users", _control.ControlUsersHandler),
    ]


class FakeCoder:
    """A fake Coder deployment: a real HTTP server on loopback with Coder's observable behaviour.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`)::

        with FakeCoder(workspaces=3) as fake:
            httpx.get(f"{fake.url}/api/v2/users/me",
                      headers={"Coder-Session-Token": fake.session_token})

    Args:
        host: interface to bind (loopback only is recommended).
        port: TCP port; ``0`` picks a free one (see :attr:`url`).
        generation: ``"g4"`` (today's Coder, default: scopes enforced, DCR off until an admin
            turns it on), ``"g3"``, ``"g2"`` or ``"g1"``: which provider generation's quirks
            to reproduce (CODER_BEHAVIOR.md §1-§13).
        oauth2: whether the OAuth2 provider is on (off: gated routes answer 404, or 403 in G1).
        dcr: whether dynamic client registration starts on (G3/G4; earlier generations always
            allow it). ``None`` (default): off in G4, as on a fresh deployment, on in G1-G3.
            An admin turns it on with ``PUT /api/v2/oauth2-provider/settings``.
        workspaces: how many ready workspaces to seed for the default user (cheap even for 10 000).
        users: extra users to seed, as :class:`FakeUser` or plain usernames.
        username, password: credentials of the default owner user.
        access_token_ttl, refresh_token_ttl, code_ttl: lifetimes in seconds of OAuth access
            tokens (Coder's session duration), refresh tokens and authorization codes.
        build_step_seconds: one "step" of a build; a build is pending for one step and running
            for three, then succeeds (or fails for the ``broken`` template).
        oauth2_rate_limit: requests per minute per ``/oauth2`` and well-known endpoint in G3/G4
            (``None`` disables); api_rate_limit: the same for ``/api/v2``.
        form_body_limit: G4 byte limit of the ``/oauth2/tokens`` and ``/oauth2/revoke`` forms (413).
        strict_authorize_params: G4 with G2's parser: unknown authorize parameters are refused.
        cancel_link_bug: reproduce coder/coder#24058 (Cancel href ``#ZgotmplZ`` for custom schemes).
        faults: faults to install at start (see :meth:`add_fault`).
        version: value of ``X-Coder-Build-Version`` and ``buildinfo.version``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        generation: Generation = "g4",
        oauth2: bool = True,
        dcr: bool | None = None,
        workspaces: int = 0,
        users: Iterable[FakeUser | str] = (),
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        access_token_ttl: float = 86400.0,
        refresh_token_ttl: float = 30 * 86400.0,
        code_ttl: float = 600.0,
        build_step_seconds: float = 0.2,
        oauth2_rate_limit: int | None = 60,
        api_rate_limit: int | None = 512,
        cancel_link_bug: bool = False,
        form_body_limit: int = 1 << 20,
        strict_authorize_params: bool = False,
        faults: Iterable[Fault] = (),
        version: str | None = None,
    ) -> None:
        if generation not in get_args(Generation):
            raise ValueError(f"generation must be one of {get_args(Generation)}, not {generation!r}")
        self._host = host
        self._requested_port = port
        self._port = 0
        self._default_password = password
        self.clock = Clock()
        self.state = State(clock=self.clock, build_step_seconds=build_step_seconds)
        self._settings = Settings(
            generation=generation,
            oauth2_enabled=oauth2,
            dcr_enabled=(generation != "g4") if dcr is None else dcr,
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            code_ttl=code_ttl,
            cancel_link_bug=cancel_link_bug,
            form_body_limit=form_body_limit,
            strict_authorize_params=strict_authorize_params,
            version=version or f"v2.26.0+fake.{generation}",
        )
        self._ctx = Context(
            state=self.state,
            settings=self._settings,
            faults=FaultInjector(),
            oauth2_limiter=RateLimiter(oauth2_rate_limit),
            api_limiter=RateLimiter(api_rate_limit),
            requests=RequestLog(),
        )
        for fault in faults:
            self._ctx.faults.add(fault)
        self._users: dict[str, SeededUser] = {}
        self._seed_templates()
        self._owner = self.create_user(username, password=password, owner=True, workspaces=workspaces)
        for spec in users:
            spec = FakeUser(spec) if isinstance(spec, str) else spec
            self.create_user(
                spec.username,
                password=spec.password,
                email=spec.email,
                owner=spec.owner,
                workspaces=spec.workspaces,
            )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._sockets: set[Any] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeCoder:
        """Bind the socket and serve on a background thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("FakeCoder is already running")
        sockets = tornado.netutil.bind_sockets(self._requested_port, address=self._host)
        self._port = sockets[0].getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._ctx.base_url = f"http://{host}:{self._port}"
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(sockets, ready, errors), name=f"fake-coder-{self._port}", daemon=True
        )
        self._thread.start()
        ready.wait(10)
        if errors:
            raise RuntimeError("fake Coder failed to start") from errors[0]
        return self

    def _run(self, sockets: list[Any], ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            app = tornado.web.Application(
                _routes(self._ctx),
                default_handler_class=NotFoundHandler,
                fake_ctx=self._ctx,
                fake=self,
                fake_sockets=self._sockets,
                websocket_ping_interval=0,
                log_function=lambda handler: None,  # the request log replaces tornado's access log
            )
            self._server = tornado.httpserver.HTTPServer(app)
            self._server.add_sockets(sockets)
        except BaseException as exc:  # pragma: no cover - surfaced to start()
            errors.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.stop()
        for ws in list(self._sockets):
            ws.close(1001, "server shutting down")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.close_all_connections(), 2)

    def stop(self) -> None:
        """Stop serving and join the thread. Safe to call twice."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeCoder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses & identities

    @property
    def url(self) -> str:
        """Base URL (also the OAuth issuer), e.g. ``http://127.0.0.1:54321``, no trailing slash."""
        if not self._ctx.base_url:
            raise RuntimeError("FakeCoder is not started")
        return self._ctx.base_url

    @property
    def port(self) -> int:
        return self._port

    @property
    def owner(self) -> SeededUser:
        """The default owner (admin) user."""
        return self._owner

    @property
    def username(self) -> str:
        return self._owner.username

    @property
    def password(self) -> str:
        return self._owner.password

    @property
    def session_token(self) -> str:
        """A long-lived session token of the default user (works like ``coder login``'s token)."""
        return self._owner.session_token

    @property
    def users(self) -> list[SeededUser]:
        return list(self._users.values())

    def user(self, username: str) -> SeededUser:
        return self._users[username.lower()]

    # ------------------------------------------------------------------ seeding

    def _seed_templates(self) -> None:
        with self.state.lock:
            self.state.add_template(
                "docker",
                display_name="Docker Containers",
                description="Develop in Docker",
                icon="/icon/docker.png",
                fails=False,
            )
            self.state.add_template(
                "kubernetes",
                display_name="Kubernetes Pod",
                description="Develop in Kubernetes",
                icon="/icon/k8s.png",
                fails=False,
            )
            self.state.add_template(
                "broken",
                display_name="Broken Template",
                description="Every start build fails (for tests)",
                icon="/icon/warning.svg",
                fails=True,
            )

    def create_user(
        self,
        username: str,
        *,
        password: str | None = None,
        email: str | None = None,
        owner: bool = False,
        workspaces: int = 0,
    ) -> SeededUser:
        """Create a user with a long-lived session token and ``workspaces`` ready workspaces.

        Seeded workspaces are named ``workspace-1`` … and use the ``docker`` template; every
        third one is stopped, the others are running.
        """
        with self.state.lock:
            user = self.state.add_user(username, password or self._default_password, email=email, owner=owner)
            token, _ = self.state.issue_api_key(user, lifetime=SEEDED_TOKEN_TTL, login_type="password")
            template = self.state.find_template("docker")
            assert template is not None
            for i in range(1, workspaces + 1):
                self.state.add_workspace(
                    user,
                    f"workspace-{i}",
                    template,
                    completed=True,
                    transition="stop" if i % 3 == 0 else "start",
                )
        seeded = SeededUser(user.id, user.username, user.email, user.password, owner, token)
        self._users[username.lower()] = seeded
        return seeded

    def _user_row(self, username: str) -> User:
        user = self.state.find_user(username)
        if user is None:
            raise KeyError(username)
        return user

    def create_token(self, username: str, *, lifetime: float = 30 * 86400.0, name: str = "") -> str:
        """Mint an API token (``<10>-<22>``) for ``username``, like ``coder tokens create``."""
        with self.state.lock:
            token, _ = self.state.issue_api_key(
                self._user_row(username), lifetime=lifetime, login_type="token", token_name=name
            )
        return token

    def suspend_user(self, username: str) -> None:
        """Suspend a user: their tokens start answering 401."""
        with self.state.lock:
            self._user_row(username).status = "suspended"

    def create_workspace(
        self, username: str, name: str, *, template: str = "docker", ready: bool = True
    ) -> str:
        """Create a workspace; ``ready=True`` means its first build has already succeeded. Returns its id."""
        with self.state.lock:
            tpl = self.state.find_template(template)
            if tpl is None:
                raise KeyError(template)
            ws = self.state.add_workspace(self._user_row(username), name, tpl, completed=ready)
        return ws.id

    def workspace_status(self, workspace_id: str) -> str:
        """Current status of a workspace (§8 mapping), on the fake clock."""
        with self.state.lock:
            build = self.state.workspaces[workspace_id].latest_build
            return workspace_status(build.transition, job_status(build.job, self.clock.now()))

    def create_oauth2_app(
        self, name: str, callback_url: str, *, icon: str = "", scope: str = ""
    ) -> OAuthClient:
        """Pre-register a confidential OAuth2 app with one secret (what an admin does in the UI).

        ``scope`` is the app's allowlist (empty: unrestricted). Over HTTP, an admin does the same
        with ``POST /api/v2/oauth2-provider/apps`` then ``POST .../apps/{id}/secrets``.
        """
        with self.state.lock:
            now = self.clock.now()
            app = OAuthApp(
                id=new_uuid(),
                name=name,
                icon=icon,
                callback_url=callback_url,
                redirect_uris=[callback_url],
                client_type="confidential",
                dynamically_registered=False,
                created_at=now,
                scope=scope,
            )
            full, prefix, secret = generate_prefixed_secret()
            sec = AppSecret(
                id=new_uuid(), prefix=prefix, secret_hash=hash_secret(secret), created_at=now, tail=full[-6:]
            )
            app.secrets[sec.id] = sec
            self.state.apps[app.id] = app
        return OAuthClient(app.id, full, callback_url)

    def consent(self, authorization_url: str, *, allow: bool = True, username: str | None = None) -> str:
        """Play the user's browser on the consent page; return where Coder sends it (``Location``).

        Over real HTTP with the user's session cookie: ``GET`` the page, then click Allow (a POST to
        the same URL with the page's CSRF token) or follow the Cancel link. Works in every generation,
        so tests need not scrape the page (G4's form has no ``action``). An answer other than the
        page (an error redirect, a 4xx) is returned as-is: its ``Location``, or raises
        :class:`AssertionError` with the body when there is none.
        """
        token = self._users[(username or self.username).lower()].session_token
        with httpx.Client(
            cookies={"coder_session_token": token}, follow_redirects=False, timeout=30
        ) as browser:
            page = browser.get(authorization_url)
            if page.status_code != 200:
                return _location(page)
            if not allow:
                cancel = re.search(r"id='cancel' href='([^']*)'", page.text)
                if cancel is None:
                    raise AssertionError("the consent page has no Cancel link")
                return html.unescape(cancel[1])
            csrf = re.search(r"name='csrf_token' value='([^']*)'", page.text)
            form = {"csrf_token": html.unescape(csrf[1])} if csrf else {}
            # On a bare transport: httpx's client parses every Location (even unfollowed), and an
            # out-of-band ``urn:`` redirect is not a URL it accepts.
            request = browser.build_request("POST", authorization_url, data=form)
            with httpx.HTTPTransport() as transport:
                answer = transport.handle_request(request)
                answer.read()
            return _location(answer)

    # ------------------------------------------------------------------ clock & switches

    def now(self) -> float:
        """Fake time as epoch seconds."""
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward: expires tokens and codes, completes builds. Returns the new time."""
        return self.clock.advance(seconds)

    def set_oauth2(self, enabled: bool) -> None:
        """Turn the OAuth2 provider on or off (issued access tokens keep working, like Coder)."""
        self._settings.oauth2_enabled = enabled

    def set_dcr(self, enabled: bool) -> None:
        """Turn dynamic client registration on or off (G3/G4; the settings API does the same)."""
        self._settings.dcr_enabled = enabled

    def set_generation(self, generation: Generation) -> None:
        if generation not in get_args(Generation):
            raise ValueError(f"generation must be one of {get_args(Generation)}")
        self._settings.generation = generation

    def set_rate_limits(self, *, oauth2: int | None = -1, api: int | None = -1) -> None:
        """Change per-minute limits; ``None`` disables, the default ``-1`` leaves a limit unchanged."""
        if oauth2 != -1:
            self._ctx.oauth2_limiter.limit = oauth2
        if api != -1:
            self._ctx.api_limiter.limit = api

    def configure(self, **changes: Any) -> None:
        """Change several settings at once (names as in :meth:`describe_settings`)."""
        simple = {
            "access_token_ttl",
            "refresh_token_ttl",
            "code_ttl",
            "cancel_link_bug",
            "form_body_limit",
            "strict_authorize_params",
        }
        for name, value in changes.items():
            if name == "oauth2":
                self.set_oauth2(bool(value))
            elif name == "dcr":
                self.set_dcr(bool(value))
            elif name == "generation":
                self.set_generation(value)
            elif name == "oauth2_rate_limit":
                self.set_rate_limits(oauth2=value)
            elif name == "api_rate_limit":
                self.set_rate_limits(api=value)
            elif name == "build_step_seconds":
                self.state.build_step_seconds = float(value)
            elif name in simple:
                setattr(self._settings, name, value)
            else:
                raise ValueError(f"unknown setting {name!r}")

    def describe_settings(self) -> dict[str, Any]:
        s = self._settings
        return {
            "generation": s.generation,
            "oauth2": s.oauth2_enabled,
            "dcr": s.dcr_enabled,
            "access_token_ttl": s.access_token_ttl,
            "refresh_token_ttl": s.refresh_token_ttl,
            "code_ttl": s.code_ttl,
            "cancel_link_bug": s.cancel_link_bug,
            "form_body_limit": s.form_body_limit,
            "strict_authorize_params": s.strict_authorize_params,
            "build_step_seconds": self.state.build_step_seconds,
            "oauth2_rate_limit": self._ctx.oauth2_limiter.limit,
            "api_rate_limit": self._ctx.api_limiter.limit,
            "version": s.version,
        }

    # ------------------------------------------------------------------ faults & request log

    def add_fault(
        self,
        kind: FaultKind | Fault,
        path: str = "",
        method: str = "*",
        *,
        count: int | None = None,
        probability: float = 1.0,
        delay: float = 0.0,
        status: int = 500,
        retry_after: int = 1,
    ) -> Fault:
        """Inject a fault on requests whose path matches the regex ``path``.

        Examples::

            fake.add_fault("error", r"^/api/v2/workspaces$", "GET", count=2, status=503)
            fake.add_fault("ratelimit", "/oauth2/tokens", retry_after=3)
            fake.add_fault("drop", "/api/v2/users/me", count=1)
            fake.add_fault("latency", "", delay=0.5)
        """
        fault = (
            kind
            if isinstance(kind, Fault)
            else Fault(
                kind=kind,
                path=path,
                method=method,
                count=count,
                probability=probability,
                delay=delay,
                status=status,
                retry_after=retry_after,
            )
        )
        return self._ctx.faults.add(fault)

    def remove_fault(self, fault_id: int) -> bool:
        return self._ctx.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self._ctx.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return self._ctx.faults.list()

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests answered so far (oldest first), secrets redacted. Control API calls are not logged."""
        return self._ctx.requests.snapshot()

    def request_counts(self) -> Counter[tuple[str, str]]:
        """``Counter`` of ``(method, route)``, e.g. ``counts["GET", "/api/v2/workspaces"]``."""
        return self._ctx.requests.counts()

    def clear_requests(self) -> None:
        self._ctx.requests.clear()


def _location(response: httpx.Response) -> str:
    if "location" not in response.headers:
        raise AssertionError(f"expected a redirect, got {response.status_code}: {response.text}")
    return str(response.headers["location"])


@contextlib.contextmanager
def fake_coder(**options: Any) -> Iterator[FakeCoder]:
    """``with fake_coder(workspaces=3) as fake: ...``: start a :class:`FakeCoder`, stop it afterwards."""
    fake = FakeCoder(**options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
