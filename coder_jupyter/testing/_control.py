"""Control API under ``/__fake__/``: drive the fake over HTTP (faults, clock, settings, users, log).

Not part of Coder. Unauthenticated (the server binds to loopback). Never subject to
injected faults or rate limits, and never recorded in the request log.

=====================================  ================================================
``GET /__fake__/``                     settings, fake time, users (no secrets)
``GET|PUT /__fake__/settings``         ``{oauth2, dcr, generation, access_token_ttl,
                                       refresh_token_ttl, code_ttl, cancel_link_bug,
                                       oauth2_rate_limit, api_rate_limit,
                                       form_body_limit, strict_authorize_params}``
``POST /__fake__/clock``               ``{"advance": seconds}`` → ``{"now": ...}``
``GET|POST|DELETE /__fake__/faults``   list / add (body = :class:`Fault` fields) / clear
``DELETE /__fake__/faults/{id}``       remove one fault
``GET|DELETE /__fake__/requests``      request log (``?counts`` for per-route counts) / clear
``POST /__fake__/users``               ``{username, password?, owner?, workspaces?}`` → user
                                       with ``session_token``
=====================================  ================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ._faults import Fault
from ._http import INVALID, BaseHandler
from ._state import rfc3339

if TYPE_CHECKING:
    from ._server import FakeCoder


class _ControlHandler(BaseHandler):
    faultable = False
    route = "/__fake__"

    @property
    def fake(self) -> FakeCoder:
        return cast("FakeCoder", self.application.settings["fake"])

    logged = False  # control traffic stays out of the request log

    def body(self) -> dict[str, Any] | None:
        data = self.read_json() if self.request.body else {}
        if data is INVALID:
            return None
        if not isinstance(data, dict):
            self.send_response(400, "Request body must be a JSON object.")
            return None
        return data


class ControlIndexHandler(_ControlHandler):
    def get(self) -> None:
        fake = self.fake
        self.send_json(
            200,
            {
                "url": fake.url,
                "now": rfc3339(fake.now()),
                "settings": fake.describe_settings(),
                "users": [{"id": u.id, "username": u.username, "owner": u.owner} for u in fake.users],
            },
        )


class ControlSettingsHandler(_ControlHandler):
    def get(self) -> None:
        self.send_json(200, self.fake.describe_settings())

    def put(self) -> None:
        data = self.body()
        if data is None:
            return
        try:
            self.fake.configure(**data)
        except (TypeError, ValueError) as exc:
            self.send_response(400, "Invalid settings.", detail=str(exc))
            return
        self.send_json(200, self.fake.describe_settings())


class ControlClockHandler(_ControlHandler):
    def get(self) -> None:
        self.send_json(200, {"now": rfc3339(self.fake.now())})

    def post(self) -> None:
        data = self.body()
        if data is None:
            return
        seconds = data.get("advance", 0)
        if not isinstance(seconds, (int, float)) or seconds < 0:
            self.send_response(400, "advance must be a non-negative number of seconds.")
            return
        self.send_json(200, {"now": rfc3339(self.fake.advance(seconds))})


class ControlFaultsHandler(_ControlHandler):
    def get(self) -> None:
        self.send_json(200, [f.to_json() for f in self.fake.faults])

    def post(self) -> None:
        data = self.body()
        if data is None:
            return
        data.pop("id", None)
        data.pop("hits", None)
        try:
            fault = self.fake.add_fault(Fault(**data))
        except (TypeError, ValueError) as exc:
            self.send_response(400, "Invalid fault.", detail=str(exc))
            return
        self.send_json(201, fault.to_json())

    def delete(self, fault_id: str | None = None) -> None:
        if fault_id is None:
            self.fake.clear_faults()
        elif not self.fake.remove_fault(int(fault_id)):
            self.send_response(404, "Route not found.")
            return
        self.no_content()


class ControlRequestsHandler(_ControlHandler):
    def get(self) -> None:
        if "counts" in self.request.query_arguments:
            counts = self.fake.request_counts()
            self.send_json(
                200, [{"method": m, "route": r, "count": n} for (m, r), n in sorted(counts.items())]
            )
            return
        self.send_json(200, [r.__dict__ for r in self.fake.requests])

    def delete(self) -> None:
        self.fake.clear_requests()
        self.no_content()


class ControlUsersHandler(_ControlHandler):
    def post(self) -> None:
        data = self.body()
        if data is None:
            return
        try:
            user = self.fake.create_user(
                str(data["username"]),
                password=data.get("password"),
                owner=bool(data.get("owner", False)),
                workspaces=int(data.get("workspaces", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.send_response(400, "Invalid user.", detail=str(exc))
            return
        self.send_json(201, user.to_json())
