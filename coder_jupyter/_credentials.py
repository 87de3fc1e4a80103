"""Credential discovery: which token a request to a deployment carries, decided on every request.

The sources, the first that applies wins (like the Coder CLI: explicit flag > environment >
config files)::

    explicit token                  Coder(url, token=...): always first, never stored
    > CODER_SESSION_TOKEN  "env"    only for CODER_URL's deployment (any, if CODER_URL is unset)
    > our store            "store"  tokens of an OAuth login or a saved API token
    > Coder CLI session    "cli"    $CODER_CONFIG_DIR/{url,session}, only if its ``url`` matches
    > OAuth login          "oauth"  interactive; not a stored credential, so not returned here

``login_methods`` (``c.CoderConfig.login_methods``) reorders or disables the sources after the
explicit token. Like huggingface_hub's ``get_token()``, nothing is pinned: the walk runs again for
every request (:class:`CredentialSources` is what :class:`~coder_jupyter._auth.Credentials` asks),
so a login or logout done later — in this kernel, another kernel or the Coder CLI — is seen at
once. Each step is cheap: an environment read, a ``stat`` of the store, two small files.

This module also says where a deployment's store lives (:func:`store_for`, :func:`pending_logins_for`),
so that :mod:`coder_jupyter._config` knows nothing of the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ._cli_session import coder_cli_config_dir, default_cli_config_dir, read_cli_session
from ._cli_share import is_private_dir, mirror
from ._config import CoderConfig, env_value, same_url
from ._store import PendingLogins, Store, store_root

__all__ = [
    "Credential",
    "CredentialMethod",
    "CredentialSources",
    "StaticMethod",
    "find_credential",
    "pending_logins_for",
    "store_for",
]

CredentialMethod = Literal["token", "env", "store", "cli"]
#: The methods of a fixed token (never refreshed, never stored by us).
StaticMethod = Literal["token", "env", "cli"]


def store_for(config: CoderConfig, deployment_url: str) -> Store:
    """The credential store of ``deployment_url`` (a normalized URL) under ``config.data_dir``.

    Every token it saves or deletes is mirrored to the Coder CLI's copies of the login
    (:func:`coder_jupyter._cli_share.mirror`), whoever the writer is: login, refresh, logout.
    """
    return Store(deployment_url, root=config.store_root(), on_tokens=mirror)


def pending_logins_for(config: CoderConfig) -> PendingLogins:
    """The pending logins under ``config.data_dir``."""
    return PendingLogins(root=config.store_root())


@dataclass(frozen=True)
class Credential:
    """A token found by :func:`find_credential`, and where it came from (safe to show)."""

    method: CredentialMethod
    token: str = field(repr=False)
    source_description: str = ""


class CredentialSources:
    """The ordered credential sources of one deployment, read afresh on every call.

    Args:
        config: supplies ``login_methods``.
        deployment_url: the normalized deployment; ``CODER_SESSION_TOKEN`` and the CLI's session
            are used only for their own deployment.
        explicit: a token given in code (``Coder(url, token=...)``); may be set later
            (:meth:`~coder_jupyter._login.AuthManager.login_with_token` with ``persist=False``).
    """

    def __init__(self, config: CoderConfig, deployment_url: str, *, explicit: str | None = None) -> None:
        self.config = config
        self.deployment_url = deployment_url
        self.explicit = (explicit or "").strip() or None

    def __repr__(self) -> str:
        return f"CredentialSources({self.deployment_url!r}, order={self.order()!r})"

    def order(self) -> tuple[CredentialMethod, ...]:
        """The sources to walk, in order; ``"store"`` marks where the store ranks."""
        order: list[CredentialMethod] = ["token"] if self.explicit else []
        for method in self.config.login_methods:
            if method in ("env", "store", "cli"):
                order.append(method)  # type: ignore[arg-type]  # checked just above
        return tuple(order)

    def fixed(self, method: str) -> Credential | None:
        """The fixed (never refreshed, never stored) token of ``method`` (token, env, cli), if any."""
        if method == "token":
            return Credential("token", self.explicit, "the token passed in code") if self.explicit else None
        if method == "env":
            return self._from_env()
        if method == "cli":
            return self._from_cli()
        return None

    def fixed_token(self, method: str) -> str | None:
        """Just the token of :meth:`fixed` (what :class:`~coder_jupyter._auth.Credentials` asks)."""
        found = self.fixed(method)
        return found.token if found is not None else None

    def find(self, store: Store) -> Credential | None:
        """The credential that wins now, reading ``store`` where it ranks."""
        for method in self.order():
            found = _from_store(store) if method == "store" else self.fixed(method)
            if found is not None:
                return found
        return None

    def _from_env(self) -> Credential | None:
        token = env_value("CODER_SESSION_TOKEN")
        if not token:
            return None
        env_url = env_value("CODER_URL") or None
        if env_url is not None and not same_url(env_url, self.deployment_url):
            return None
        return Credential("env", token, "CODER_SESSION_TOKEN")

    def _from_cli(self) -> Credential | None:
        directory = coder_cli_config_dir()
        if is_private_dir(directory, store_root(self.config.store_root())):
            # Our own copy of the store (the kernel set CODER_CONFIG_DIR): the store already
            # ranks as itself; the CLI source means the user's own `coder login`.
            directory = default_cli_config_dir()
        cli_url, session = read_cli_session(directory)
        if session is None or not same_url(cli_url, self.deployment_url):
            return None
        return Credential("cli", session, f"the Coder CLI's session in {directory}")


def _from_store(store: Store) -> Credential | None:
    tokens = store.load_tokens()
    if tokens is None:
        return None
    what = "an OAuth login" if tokens.method == "oauth" else "a saved API token"
    return Credential("store", tokens.access_token, f"{what} in {store.path}")


def find_credential(
    config: CoderConfig,
    deployment_url: str,
    *,
    explicit: str | None = None,
    store: Store | None = None,
) -> Credential | None:
    """The credential to use for ``deployment_url`` (normalized) right now, or ``None`` when an
    OAuth login (or another interactive login) is needed::

        explicit token > then, in ``login_methods`` order: env > store > cli

    Args:
        config: supplies ``login_methods`` and ``data_dir``.
        deployment_url: the deployment the token is for.
        explicit: a token given in code (``Coder(url, token=...)``).
        store: the deployment's store (default: :func:`store_for`).
    """
    sources = CredentialSources(config, deployment_url, explicit=explicit)
    return sources.find(store if store is not None else store_for(config, deployment_url))

