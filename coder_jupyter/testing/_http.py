"""Base request handler: headers, faults, the provider gate, rate limits, auth and JSON helpers.

Every route of the fake derives from :class:`BaseHandler`. The order of checks in
:meth:`BaseHandler.prepare` mirrors Coder's middleware stack: injected faults first (they
model the network), then the provider gate, then the rate limiter.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import tornado.web

from ._context import Context, Settings
from ._faults import RequestRecord, redact_query
from ._permissions import needs
from ._scopes import expand_all, permits
from ._state import ApiKey, State, User, rfc3339, secret_matches

SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."
NOT_FOUND = "Resource not found or you do not have access to this resource"
G1_EXPERIMENT = "OAuth2 Provider functionality requires enabling the 'oauth2' experiment."
RATE_LIMITED = "You've been rate limited for sending too many requests!"
OAUTH_RATE_LIMITED = "Rate limit exceeded. Try again later."
FORBIDDEN_DETAIL = (
    "You don't have permission to view this content. If you believe this is a mistake, "
    "please contact your administrator or try signing in with different credentials."
)
#: Trees whose every response carries ``Cache-Control: no-store`` in G4 (``httpmw.NoStore``).
NO_STORE_TREES = ("/oauth2/", "/api/v2/oauth2-provider/")

F = TypeVar("F", bound=Callable[..., Any])


def locked(method: F) -> F:
    """Run a (synchronous) handler method while holding the state lock."""

    @functools.wraps(method)
    def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
        with self.state.lock:
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


class _Invalid:
    pass


INVALID = _Invalid()


class BaseHandler(tornado.web.RequestHandler):
    """Shared behaviour. Subclasses set ``route`` (for the request log), ``gate`` and ``rate_bucket``."""

    route: str = ""
    #: ``"oauth2"`` for routes that disappear when the provider is off.
    gate: str | None = None
    #: ``"oauth2"`` (G3 login limiter, OAuth error body) or ``"api"`` (``/api/v2`` limiter).
    rate_bucket: str | None = None
    #: Control routes are never subject to injected faults.
    faultable: bool = True
    #: Whether requests appear in the request log.
    logged: bool = True
    #: Methods the OAuth rate limiter does not count (answered before routing in Coder).
    uncounted_methods: frozenset[str] = frozenset()
    #: Whether the form body is bounded (G4 ``/oauth2/tokens`` and ``/oauth2/revoke``: 413).
    body_limited: bool = False

    _fault_kind: str | None = None
    _key: ApiKey | None = None
    _hidden: frozenset[str] = frozenset()

    @property
    def ctx(self) -> Context:
        return cast(Context, self.application.settings["fake_ctx"])

    @property
    def state(self) -> State:
        return self.ctx.state

    @property
    def settings_(self) -> Settings:
        return self.ctx.settings

    @property
    def generation(self) -> str:
        return self.ctx.settings.generation

    @property
    def gen(self) -> int:
        """The generation as a number (1-4), for "since G3"-style comparisons."""
        return int(self.ctx.settings.generation[1])

    def set_default_headers(self) -> None:
        self.set_header("X-Coder-Build-Version", self.ctx.settings.version)
        self.set_header("X-Content-Type-Options", "nosniff")
        if self.gen >= 4 and self.request.path.startswith(NO_STORE_TREES) and not self._gated_off():
            # Mounted after the provider gate: a gate rejection carries neither header.
            self.set_header("Cache-Control", "no-store")
            self.set_header("Pragma", "no-cache")

    def _gated_off(self) -> bool:
        return self.gate == "oauth2" and not self.settings_.oauth2_enabled

    def check_xsrf_cookie(self) -> None:  # the fake does its own CSRF on the consent page
        return

    # ------------------------------------------------------------------ prepare pipeline

    async def prepare(self) -> None:
        if self.faultable:
            fault = self.ctx.faults.match(self.request.method or "GET", self.request.path)
            if fault is not None:
                self._fault_kind = fault.kind
                if fault.kind == "latency":
                    await asyncio.sleep(fault.delay)
                elif fault.kind == "drop":
                    self._record(0)
                    self.detach().close()
                    return
                elif fault.kind == "error":
                    self.send_response(
                        fault.status, "Injected fault.", detail="coder_jupyter fake: injected error"
                    )
                    return
                else:
                    self.set_header("Retry-After", str(fault.retry_after))
                    self._send_rate_limited()
                    return
        if self._gated_off():
            self.provider_off()
            return
        self._rate_limit()
        if self.body_limited and not self._finished and self.gen >= 4:
            limit = self.settings_.form_body_limit
            if len(self.request.body) > limit:
                self.oauth_error(
                    413, "invalid_request", f"request body too large: the limit is {limit} bytes"
                )

    def provider_off(self) -> None:
        """Answer like Coder does for a gated route while the provider is off."""
        if self.generation == "g1":
            self.send_response(403, G1_EXPERIMENT)
        else:
            self.send_response(404, "Route not found.")

    def _rate_limit(self) -> None:
        bucket = self.rate_bucket
        if bucket is None or self._finished:
            return
        if bucket == "oauth2":
            if self.gen < 3 or self.request.method in self.uncounted_methods:
                return  # G1/G2: the /oauth2 group had no limiter
            limiter = self.ctx.oauth2_limiter
        else:
            limiter = self.ctx.api_limiter
        if limiter.limit is None:
            return
        user = self.peek_user()
        bypass = self.request.headers.get("X-Coder-Bypass-Ratelimit", "").lower() == "true"
        if bucket == "api" and user is not None and user.owner and bypass:
            return
        client = f"user:{user.id}" if user else f"ip:{self.request.remote_ip}"
        if bucket == "oauth2":  # one bucket per endpoint, whatever the suffix or id
            method = self.request.method or ""
            endpoint = f"{method} {self.route}" if method == "DELETE" else self.route
        else:
            endpoint = self.request.path
        allowed, remaining, reset = limiter.hit(bucket, client, endpoint, self.state.clock.now())
        self.set_header("X-RateLimit-Limit", str(limiter.limit))
        self.set_header("X-RateLimit-Remaining", str(remaining))
        self.set_header("X-RateLimit-Reset", str(int(time.time()) + reset))
        if not allowed:
            self.set_header("Retry-After", str(reset))
            self._send_rate_limited()

    def _send_rate_limited(self) -> None:
        if self.rate_bucket == "oauth2" and self.gen >= 4:
            # Both shapes, so codersdk (message) and OAuth clients (error) can read it.
            self.send_json(
                429,
                {
                    "error": "temporarily_unavailable",
                    "error_description": OAUTH_RATE_LIMITED,
                    "message": OAUTH_RATE_LIMITED,
                },
            )
        elif self.rate_bucket == "oauth2":
            self.oauth_error(429, "temporarily_unavailable", OAUTH_RATE_LIMITED)
        else:
            self.send_response(429, RATE_LIMITED)

    def finish(self, chunk: Any = None) -> Any:
        # Record before the response is flushed, so a client that got its answer sees it logged.
        if self.logged and not self._finished and not getattr(self, "_recorded", False):
            self._record(self.get_status())
        return super().finish(chunk)

    def _record(self, status: int) -> None:
        self._recorded = True
        self.ctx.requests.add(
            RequestRecord(
                method=self.request.method or "",
                path=self.request.path,
                query=_redact(self.request.query),
                route=self.route or self.request.path,
                status=status,
                fault=self._fault_kind,
                time=self.state.clock.now(),
            )
        )

    # ------------------------------------------------------------------ writers

    def send_json(self, status: int, body: Any, *, raw: str | None = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(raw if raw is not None else json.dumps(body, separators=(",", ":")))

    def send_response(
        self,
        status: int,
        message: str,
        *,
        detail: str | None = None,
        validations: list[dict[str, str]] | None = None,
    ) -> None:
        """Write a ``codersdk.Response`` body."""
        body: dict[str, Any] = {"message": message}
        if detail:
            body["detail"] = detail
        if validations:
            body["validations"] = validations
        self.send_json(status, body)

    def validation_failed(
        self, validations: list[dict[str, str]], message: str = "Validation failed."
    ) -> None:
        self.send_response(400, message, validations=validations)

    def not_found(self) -> None:
        self.send_response(404, NOT_FOUND)

    def oauth_error(self, status: int, error: str, description: str = "") -> None:
        """Write an RFC 6749 error body (``error_description`` omitted when empty)."""
        body = {"error": error}
        if description:
            body["error_description"] = description
        if error == "invalid_client" and status == 401 and self.gen >= 3:
            self.set_header("WWW-Authenticate", 'Basic realm="coder"')
        self.send_json(status, body)

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if status_code == 405:
            body = {"message": "Method not allowed."}
        elif status_code == 404:
            body = {"message": "Route not found."}
        elif status_code >= 500:
            body = {"message": "An internal server error occurred."}
        else:
            body = {"message": self._reason}
        self.finish(json.dumps(body))

    def read_json(self) -> Any:
        """Decode the JSON body; on failure answer Coder's 400 and return :data:`INVALID`."""
        try:
            return json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            self.send_response(400, "Request body must be valid JSON.", detail=str(exc))
            return INVALID

    def read_json_object(self) -> dict[str, Any] | None:
        """Decode a JSON object body; on failure answer Coder's 400 and return ``None``."""
        body = self.read_json()
        if body is INVALID:
            return None
        if not isinstance(body, dict):
            self.send_response(400, "Request body must be valid JSON.", detail="expected a JSON object")
            return None
        return body

    # ------------------------------------------------------------------ authentication

    def request_token(self) -> str | None:
        """The session/API token, in Coder's order: cookie, query, header, Bearer, access_token."""
        cookie = self.get_cookie("coder_session_token")
        if cookie:
            return cookie
        query = self.get_query_argument("coder_session_token", None)
        if query:
            return query
        header = self.request.headers.get("Coder-Session-Token")
        if header:
            return header
        auth = self.request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip():
            return auth[7:].strip()
        return self.get_query_argument("access_token", None) or None

    def _resolve(self, token: str | None) -> tuple[User | None, ApiKey | None, str, str]:
        """Validate a token: ``(user, key, detail, error_description)``; user is None on failure."""
        if token is None:
            return None, None, 'Cookie "coder_session_token" or query parameter must be provided.', ""
        key_id, sep, secret = token.partition("-")
        if not sep or len(key_id) != 10 or len(secret) != 22:
            return (
                None,
                None,
                "Invalid API key format: api key must be in the form id-secret",
                "Malformed token",
            )
        key = self.state.api_keys.get(key_id)
        if key is None:
            return None, None, "API key is invalid.", "The access token is invalid"
        if not secret_matches(secret, key.secret_hash):
            return None, None, "API key secret is invalid.", "The access token is invalid"
        now = self.state.clock.now()
        if now >= key.expires_at:
            return (
                None,
                None,
                f'API key expired at "{rfc3339(key.expires_at)}".',
                "The access token has expired",
            )
        user = self.state.users[key.user_id]
        if user.status != "active":
            detail = (
                f'User is not active (status = "{user.status}"). Contact an admin to reactivate your account.'
            )
            return None, None, detail, "The access token is invalid"
        return user, key, "", ""

    def peek_user(self) -> User | None:
        """The authenticated user, or None; never writes a response."""
        with self.state.lock:
            return self._resolve(self.request_token())[0]

    def authenticate(self) -> tuple[User, ApiKey] | None:
        """Authenticate like Coder's API-key middleware; on failure write the 401 and return None.

        From G4 on, the key's scope is then checked against the route's needs
        (:mod:`._permissions`): a missing permission writes the 403/404 and returns None, or
        marks the resource as hidden (see :meth:`hidden`) for listings.
        """
        token = self.request_token()
        user, key, detail, description = self._resolve(token)
        if user is None or key is None:
            challenge = 'Bearer realm="coder"'
            if self.gen >= 4:
                description = description if "expired" in description else "The access token is invalid"
                challenge += (
                    f', error="invalid_token", error_description="{description}"'
                    f', resource_metadata="{self.ctx.base_url}/.well-known/oauth-protected-resource"'
                )
            elif description:
                challenge += f', error="invalid_token", error_description="{description}"'
            self.set_header("WWW-Authenticate", challenge)
            self.send_response(401, SIGNED_OUT, detail=detail)
            return None
        now = self.state.clock.now()
        if key.expires_at - now <= key.lifetime - 3600:  # sliding expiry, as httpmw/apikey.go
            key.expires_at = now + key.lifetime
        user.last_seen_at = now
        self._key = key
        if not self.enforce_scope():
            return None
        return user, key

    def enforce_scope(self, **fill: str) -> bool:
        """Check the route's needs against the authenticated key's scope (G4).

        ``fill`` supplies placeholders such as ``transition``; needs with an unfilled
        placeholder are skipped (the handler calls again once it knows the value).
        On a denial the answer is written and False returned.
        """
        key = self._key
        if key is None or self.gen < 4:
            return True
        granted = expand_all(key.scope.split())
        for resource, action, denial in needs(self.request.method or "GET", self.route):
            if "{" in action:
                if not fill:
                    continue
                action = action.format(**fill)
            if permits(granted, (resource, action)):
                continue
            if denial == "filter":
                self._hidden = self._hidden | {resource}
            elif denial == "404":
                self.not_found()
                return False
            else:
                self.send_response(403, "Forbidden.", detail=FORBIDDEN_DETAIL)
                return False
        return True

    def hidden(self, resource: str) -> bool:
        """True when the token's scope cannot read ``resource`` rows: a listing leaves them out."""
        return resource in self._hidden

    def basic_credentials(self) -> tuple[str, str] | None:
        auth = self.request.headers.get("Authorization", "")
        if auth[:6].lower() != "basic ":
            return None
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None


def _redact(query: str) -> str:
    return redact_query(query) if query else ""


class NotFoundHandler(BaseHandler):
    """Coder's catch-all: 404 ``{"message":"Route not found."}`` for any unknown path and method."""

    route = "<unknown>"

    def _not_found(self, *args: Any) -> None:
        self.send_response(404, "Route not found.")

    get = post = put = patch = delete = head = options = _not_found
