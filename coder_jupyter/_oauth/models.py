"""Frozen value types shared by the OAuth core, the store, the auth and the login manager.

Secret fields are declared with ``repr=False`` so that no ``repr``/``str`` ever shows them.
Each type converts to and from a JSON-able dict (``to_json``/``from_json``) for the store.
Times are Unix seconds (``float``); the clock is always passed in, never read here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]


def _from_dict(cls: Any, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names})


@dataclass(frozen=True)
class AuthServerMetadata:
    """RFC 8414 authorization-server metadata, validated (see ``metadata.parse_metadata``)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    registration_endpoint: str | None = None
    response_types_supported: tuple[str, ...] = ("code",)
    grant_types_supported: tuple[str, ...] = ("authorization_code", "refresh_token")
    code_challenge_methods_supported: tuple[str, ...] = ("S256",)
    token_endpoint_auth_methods_supported: tuple[str, ...] = ("client_secret_basic",)
    scopes_supported: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthServerMetadata:
        return _from_dict(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ClientRegistration:
    """An OAuth client: dynamically registered (RFC 7591) or pre-registered by an admin.

    ``registration_access_token``/``registration_client_uri`` are set only for dynamic
    registrations and enable RFC 7592 read/update/delete.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    token_endpoint_auth_method: ClientAuthMethod = "client_secret_basic"  # noqa: S105
    redirect_uris: tuple[str, ...] = ()
    registration_access_token: str | None = field(default=None, repr=False)
    registration_client_uri: str | None = None
    client_id_issued_at: int | None = None
    client_secret_expires_at: int | None = None
    dynamic: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientRegistration:
        return _from_dict(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TokenSet:
    """Tokens from the token endpoint (RFC 6749 §5.1), with the absolute expiry computed.

    ``expires_at`` is Unix seconds, or ``None`` when the server gave no lifetime.
    ``method`` records how the credentials were obtained: ``"oauth"`` or ``"token"``
    (an API/session token entered or configured by the user).
    """

    access_token: str = field(repr=False)
    token_type: str = "Bearer"  # noqa: S105
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None
    obtained_at: float = 0.0
    method: Literal["oauth", "token"] = "oauth"
    client_id: str | None = None

    def expires_within(self, seconds: float, *, now: float) -> bool:
        """True if the access token expires less than ``seconds`` from ``now``."""
        return self.expires_at is not None and self.expires_at - now < seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        return _from_dict(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PendingLogin:
    """A login started by one process and finished by whichever receives the callback.

    Stored by ``state`` (hashed in the file name), single use, valid until ``expires_at``.
    ``authorization_url`` is safe to show: it carries the S256 challenge and the state,
    never the verifier.
    """

    deployment_url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str = ""
    authorization_url: str = ""
    client_id: str = ""
    created_at: float = 0.0
    expires_at: float = 0.0
    #: The deployment is configured as one whose Cancel omits ``state`` (G1,
    #: ``c.CoderConfig.oauth_cancel_without_state``): only such a login may be cancelled by a
    #: state-less ``error=`` callback.
    cancel_without_state: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingLogin:
        return _from_dict(cls, data)  # type: ignore[no-any-return]
