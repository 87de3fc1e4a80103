"""Mutable settings of a fake deployment and the bundle handlers receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._faults import FaultInjector, RateLimiter, RequestLog
from ._state import Generation, State


@dataclass
class Settings:
    """Switches that may change while the server runs (see :class:`FakeCoder` for meanings)."""

    generation: Generation = "g4"
    oauth2_enabled: bool = True
    dcr_enabled: bool = False
    access_token_ttl: float = 86400.0
    refresh_token_ttl: float = 30 * 86400.0
    code_ttl: float = 600.0
    cancel_link_bug: bool = False
    version: str = "v2.26.0+fake"
    #: G4 form body limit of ``/oauth2/tokens`` and ``/oauth2/revoke`` in bytes (413 above it).
    #: Coder's ``httpapi.DefaultMaxRequestBodyBytes`` value is unconfirmed; 1 MiB is assumed.
    form_body_limit: int = 1 << 20
    #: G4 with the G2 parser: unknown authorize parameters answer ``invalid_request``.
    strict_authorize_params: bool = False


@dataclass
class Context:
    """Everything a request handler needs: data, settings, knobs and the base URL."""

    state: State
    settings: Settings
    faults: FaultInjector
    oauth2_limiter: RateLimiter
    api_limiter: RateLimiter
    requests: RequestLog = field(default_factory=RequestLog)
    base_url: str = ""
