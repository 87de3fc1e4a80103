"""Configuration: where the deployment is, how to reach it, and which credentials to use.

Admins set everything once for all users, either in the environment (``c.Spawner.environment``
in JupyterHub) or in a Jupyter/IPython config file::

    c.CoderConfig.url = "https://coder.example.com"
    c.CoderConfig.login_methods = ["env", "store", "oauth"]     # no Coder CLI session
    c.CoderConfig.headers = ["X-Proxy-Auth=..."]

==========================  ===============================  ==================================
trait (``c.CoderConfig.``)  environment variable             meaning
==========================  ===============================  ==================================
``url``                     ``CODER_URL``                    the deployment
``oauth_client_id``         ``CODER_OAUTH_CLIENT_ID``        a pre-registered OAuth2 app (when
``oauth_client_secret``     ``CODER_OAUTH_CLIENT_SECRET``    dynamic registration is off)
``oauth_redirect_uri``      ``CODER_OAUTH_REDIRECT_URI``     one callback URI for every user of a
                                                             pre-registered app on JupyterHub
                                                             (``https://hub/hub/user-redirect/
                                                             coder/oauth/callback``)
``login_methods``           ``CODER_JUPYTER_LOGIN_METHODS``  which credential sources, in order
``ca_bundle``               ``CODER_TLS_CA_FILE``            PEM CA bundle to trust
``client_cert``             ``CODER_TLS_CERT_FILE``          mTLS client certificate (PEM)
``client_key``              ``CODER_TLS_KEY_FILE``           its key (if not in the cert file)
``headers``                 ``CODER_HEADER``                 extra ``key=value`` headers
``header_command``          ``CODER_HEADER_COMMAND``         command printing ``key=value`` lines
``timeout``                 ``CODER_JUPYTER_TIMEOUT``        HTTP timeout in seconds (30)
``max_response_bytes``      ``CODER_JUPYTER_MAX_RESPONSE_    response size cap (64 MiB)
                            BYTES``
``request_deadline``        ``CODER_JUPYTER_REQUEST_         overall seconds per request (120)
                            DEADLINE``
``oauth_cancel_without_     ``CODER_OAUTH_CANCEL_WITHOUT_    G1 deployment: a Cancel without
state``                     STATE``                          ``state`` cancels its login
``data_dir``                ``CODER_JUPYTER_DIR``            the credential store's root
``client_name``             —                                name shown on Coder's consent page
``deployments``             —                                named deployments for ``%coder use``
==========================  ===============================  ==================================

``CODER_HEADER`` and ``CODER_HEADER_COMMAND`` behave as in the Coder CLI (a comma-separated
``key=value`` list; a shell command run with ``CODER_URL`` set, printing one ``key=value`` per
line). The Coder CLI has no CA/mTLS flags of its own (it uses the system trust store and
``SSL_CERT_FILE``); the ``CODER_TLS_*`` names are ours. Without ``ca_bundle``, ``SSL_CERT_FILE``
is honoured, else certifi's bundle is used.

**Which deployment** (:meth:`CoderConfig.resolved_url`): an explicit URL > ``url``
(``c.CoderConfig.url`` or ``CODER_URL``) > the Coder CLI's ``url`` file > none, which is the
error "No Coder deployment configured: pass a URL, set CODER_URL, or run %coder use <url>."

**Which credential**: :mod:`coder_jupyter._credentials` walks the sources (explicit token, then
``login_methods`` in order: ``env``, ``store``, ``cli``; ``oauth`` is the interactive login) on
every request. ``login_methods`` (default ``env, store, cli, oauth``) reorders or disables them:
an admin can remove ``cli`` (never reuse the CLI's session) or ``oauth``.

This module imports nothing of the store or the network: connections are
:mod:`coder_jupyter._connection`, the Coder CLI's files :mod:`coder_jupyter._cli_session`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from traitlets import Bool, Dict, Float, Int, List, Unicode, default, validate
from traitlets.config import Configurable

from . import _limits
from ._cli_session import read_cli_session
from ._connection import ConnectionSettings, parse_headers, run_header_command
from ._public import LOGIN_METHODS
from .errors import ConfigurationError

__all__ = [
    "LOGIN_METHODS",
    "NO_DEPLOYMENT",
    "CoderConfig",
    "env_value",
    "normalize_url",
    "same_url",
]

NO_DEPLOYMENT = "No Coder deployment configured: pass a URL, set CODER_URL, or run %coder use <url>."

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCAL_HOSTS = ("localhost", "127.", "[::1]")


# -- URLs ---------------------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """The canonical form of a deployment URL, used as the store key and for comparisons.

    Lowercases scheme and host, drops the default port, the query, the fragment and trailing
    slashes; keeps a path prefix. A bare host is accepted like ``coder login`` accepts it:
    ``coder.example.com`` → ``https://coder.example.com`` (``http://`` for ``localhost``).

    >>> normalize_url("HTTPS://Coder.Example.com:443/?x=1#top")
    'https://coder.example.com'

    Raises:
        ConfigurationError: empty, not http(s), no host, a bad port, or a user/password in the
            URL. The message never repeats the query or a password.
    """
    text = url.strip()
    if not text:
        raise ConfigurationError(f"The Coder deployment URL is empty. {_EXAMPLE}")
    if "://" not in text:
        scheme = "http" if text.lower().startswith(_LOCAL_HOSTS) else "https"
        text = f"{scheme}://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigurationError(
            f"The Coder deployment URL must start with https:// or http://, not {scheme}://. {_EXAMPLE}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            "The Coder deployment URL must not contain a user name or password; remove the part before '@' "
            "and log in with the widget, %coder login or CODER_SESSION_TOKEN instead.")
    host = (parts.hostname or "").lower()
    if not host or any(c.isspace() for c in host):
        raise ConfigurationError(f"The Coder deployment URL has no valid host name. {_EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(
            f"The Coder deployment URL for {host} has an invalid port. {_EXAMPLE}") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


_EXAMPLE = "Example: https://coder.example.com"


def same_url(a: str | None, b: str | None) -> bool:
    """True if both are set and name the same deployment (malformed counts as different)."""
    if not a or not b:
        return False
    try:
        return normalize_url(a) == normalize_url(b)
    except ConfigurationError:
        return False


# -- the Configurable -------------------------------------------------------------------------------


def env_value(name: str) -> str:
    """The environment variable ``name``, stripped (empty when unset)."""
    return os.environ.get(name, "").strip()


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in env_value(name).split(",") if part.strip()]


def _check_methods(values: Iterable[str]) -> list[str]:
    methods = [str(m).strip().lower() for m in values]
    unknown = [m for m in methods if m not in LOGIN_METHODS]
    if unknown:
        raise ConfigurationError(
            f"Unknown login method(s) {', '.join(map(repr, unknown))} in login_methods / "
            f"CODER_JUPYTER_LOGIN_METHODS; use some of: {', '.join(LOGIN_METHODS)}.")
    return list(dict.fromkeys(methods))


class CoderConfig(Configurable):
    """coder_jupyter's settings; see the module docstring for the table of traits and variables.

    Every trait reads its environment variable when it is first used and is overridden by
    Jupyter/IPython config (``c.CoderConfig.<name> = ...``); pass ``parent=`` (the shell, the
    server app) or ``config=`` to load them.
    """

    url = Unicode(
        help="URL of the Coder deployment, e.g. https://coder.example.com (default: $CODER_URL).",
    ).tag(config=True)
    oauth_client_id = Unicode(
        help="Client ID of an OAuth2 app registered in Coder by an admin, for deployments without dynamic "
        "client registration (default: $CODER_OAUTH_CLIENT_ID).",
    ).tag(config=True)
    oauth_client_secret = Unicode(
        help="Client secret of that OAuth2 app (default: $CODER_OAUTH_CLIENT_SECRET). Never displayed.",
    ).tag(config=True)
    oauth_redirect_uri = Unicode(
        help="Redirect URI for logins through the Jupyter server, instead of the page's own "
        "{base_url}coder/oauth/callback. On JupyterHub with one pre-registered app (Coder matches redirect "
        "URIs exactly), set https://<hub>/hub/user-redirect/coder/oauth/callback: the hub forwards it to "
        "the signed-in user's server (default: $CODER_OAUTH_REDIRECT_URI).",
    ).tag(config=True)
    login_methods = List(
        Unicode(),
        help="Credential sources to use, in order, after an explicitly given token: env "
        "(CODER_SESSION_TOKEN), store (our saved logins), cli (the Coder CLI's session), oauth "
        "(interactive login). Default: $CODER_JUPYTER_LOGIN_METHODS (comma list) or env,store,cli,oauth.",
    ).tag(config=True)
    ca_bundle = Unicode(
        help="PEM file of CA certificates to trust for the deployment (default: $CODER_TLS_CA_FILE; "
        "else $SSL_CERT_FILE, else certifi).",
    ).tag(config=True)
    client_cert = Unicode(
        help="PEM client certificate for mutual TLS (default: $CODER_TLS_CERT_FILE).",
    ).tag(config=True)
    client_key = Unicode(
        help="PEM private key of the client certificate, if not in the same file "
        "(default: $CODER_TLS_KEY_FILE).",
    ).tag(config=True)
    headers = List(
        Unicode(),
        help="Extra HTTP headers as key=value strings, sent with every request (default: $CODER_HEADER, "
        "comma-separated, as in the Coder CLI).",
    ).tag(config=True)
    header_command = Unicode(
        help="Shell command printing extra headers, one key=value per line; run with CODER_URL set "
        "(default: $CODER_HEADER_COMMAND, as in the Coder CLI).",
    ).tag(config=True)
    header_command_timeout = Float(10.0, help="Seconds the header command may take.").tag(config=True)
    timeout = Float(help="HTTP timeout in seconds (default: $CODER_JUPYTER_TIMEOUT or 30).").tag(config=True)
    data_dir = Unicode(
        help="Root directory of the credential store (default: $CODER_JUPYTER_DIR, else "
        "<jupyter data dir>/coder_jupyter).",
    ).tag(config=True)
    client_name = Unicode(
        "Jupyter (coder_jupyter)",
        help="Name of the OAuth2 client registered dynamically, shown on Coder's consent page.",
    ).tag(config=True)
    deployments = Dict(
        value_trait=Unicode(), per_key_traits=None,
        help="Named deployments for %coder use <name>, e.g. {\"prod\": \"https://coder.example.com\"}.",
    ).tag(config=True)
    max_response_bytes = Int(
        help="Largest response body read, in bytes; larger answers raise ResponseTooLargeError "
        "(default: $CODER_JUPYTER_MAX_RESPONSE_BYTES or 64 MiB).",
    ).tag(config=True)
    request_deadline = Float(
        help="Seconds one request may take overall, body included; slower ones raise "
        "DeadlineExceededError (default: $CODER_JUPYTER_REQUEST_DEADLINE or 120).",
    ).tag(config=True)
    oauth_cancel_without_state = Bool(
        help="The deployment is an experiment-era Coder (G1) whose Cancel button redirects with "
        "error=access_denied and no state: let such a callback cancel this deployment's one "
        "pending login. Off by default, because any web page can send a browser to the callback "
        "(default: $CODER_OAUTH_CANCEL_WITHOUT_STATE).",
    ).tag(config=True)

    @default("max_response_bytes")
    def _max_response_bytes_default(self) -> int:
        return _limits.default_max_response_bytes()

    @default("request_deadline")
    def _request_deadline_default(self) -> float:
        return _limits.default_deadline()

    @default("oauth_cancel_without_state")
    def _oauth_cancel_without_state_default(self) -> bool:
        return env_value("CODER_OAUTH_CANCEL_WITHOUT_STATE").lower() in ("1", "true", "yes", "on")

    @default("url")
    def _url_default(self) -> str:
        return env_value("CODER_URL")

    @default("oauth_client_id")
    def _oauth_client_id_default(self) -> str:
        return env_value("CODER_OAUTH_CLIENT_ID")

    @default("oauth_client_secret")
    def _oauth_client_secret_default(self) -> str:
        return env_value("CODER_OAUTH_CLIENT_SECRET")

    @default("oauth_redirect_uri")
    def _oauth_redirect_uri_default(self) -> str:
        return env_value("CODER_OAUTH_REDIRECT_URI")

    @default("login_methods")
    def _login_methods_default(self) -> list[str]:
        return _check_methods(_env_list("CODER_JUPYTER_LOGIN_METHODS") or LOGIN_METHODS)

    @validate("login_methods")
    def _validate_login_methods(self, proposal: Any) -> list[str]:
        return _check_methods(proposal["value"])

    @default("ca_bundle")
    def _ca_bundle_default(self) -> str:
        return env_value("CODER_TLS_CA_FILE")

    @default("client_cert")
    def _client_cert_default(self) -> str:
        return env_value("CODER_TLS_CERT_FILE")

    @default("client_key")
    def _client_key_default(self) -> str:
        return env_value("CODER_TLS_KEY_FILE")

    @default("headers")
    def _headers_default(self) -> list[str]:
        return _env_list("CODER_HEADER")

    @default("header_command")
    def _header_command_default(self) -> str:
        return env_value("CODER_HEADER_COMMAND")

    @default("timeout")
    def _timeout_default(self) -> float:
        raw = env_value("CODER_JUPYTER_TIMEOUT")
        try:
            return float(raw) if raw else 30.0
        except ValueError:
            raise ConfigurationError(
                f"CODER_JUPYTER_TIMEOUT must be a number of seconds, not {raw!r}.") from None

    @default("data_dir")
    def _data_dir_default(self) -> str:
        return env_value("CODER_JUPYTER_DIR")

    def __repr__(self) -> str:
        return f"CoderConfig(url={self.url!r}, login_methods={self.login_methods!r})"

    @classmethod
    def class_get_trait_help(cls, trait: Any, inst: Any = None, helptext: str | None = None) -> str:
        """Trait help as traitlets renders it, without the current value of the client secret."""
        if trait.name == "oauth_client_secret":
            inst = None
        text: str = super().class_get_trait_help(trait, inst, helptext)
        return text

    # -- derived values

    def allows(self, method: str) -> bool:
        """Whether ``method`` (``env``, ``store``, ``cli``, ``oauth``) is enabled by ``login_methods``."""
        return method in self.login_methods

    def oauth_client(self) -> tuple[str | None, str | None]:
        """``(client_id, client_secret)`` of a pre-registered OAuth2 app, or ``(None, None)``."""
        return (self.oauth_client_id or None, self.oauth_client_secret or None)

    def resolved_url(self, explicit: str | None = None) -> str | None:
        """The deployment, normalized: ``explicit`` > ``url`` (config or ``CODER_URL``) > the Coder
        CLI's ``url`` file (when ``cli`` is enabled) > ``None``.

        Raises:
            ConfigurationError: the chosen URL is malformed.
        """
        if explicit:
            return normalize_url(explicit)
        if self.url:
            return normalize_url(self.url)
        if self.allows("cli"):
            cli_url, _ = read_cli_session()
            if cli_url:
                try:
                    return normalize_url(cli_url)
                except ConfigurationError:
                    return None
        return None

    def deployment_url(self, explicit: str | None = None) -> str:
        """Like :meth:`resolved_url`, but a missing deployment is an error.

        Raises:
            ConfigurationError: "No Coder deployment configured: pass a URL, set CODER_URL, or
                run %coder use <url>."
        """
        url = self.resolved_url(explicit)
        if url is None:
            raise ConfigurationError(NO_DEPLOYMENT)
        return url

    def store_root(self) -> Path | None:
        """The store root from ``data_dir`` (``None``: the default, see :func:`_store.store_root`)."""
        return Path(self.data_dir).expanduser() if self.data_dir else None

    def connection_settings(self, url: str | None = None) -> ConnectionSettings:
        """Everything needed to open connections to the deployment: its URL (see
        :meth:`deployment_url`), TLS, extra headers (static and from the header command) and
        the timeout. Runs the header command, if any.

        Raises:
            ConfigurationError: no deployment, a bad URL, a missing TLS file, malformed headers,
                or a failing header command.
        """
        deployment = self.deployment_url(url)
        headers = parse_headers(self.headers, source="CODER_HEADER / c.CoderConfig.headers")
        if self.header_command:
            headers.update(run_header_command(self.header_command, url=deployment,
                                              timeout=self.header_command_timeout))
        for name, label in ((self.ca_bundle, "CA bundle (CODER_TLS_CA_FILE)"),
                            (self.client_cert, "client certificate (CODER_TLS_CERT_FILE)"),
                            (self.client_key, "client key (CODER_TLS_KEY_FILE)")):
            if name and not Path(name).expanduser().is_file():
                raise ConfigurationError(f"The {label} {name} does not exist or is not a file.")
        if self.client_key and not self.client_cert:
            raise ConfigurationError("A client key (CODER_TLS_KEY_FILE) needs a client certificate "
                                     "(CODER_TLS_CERT_FILE) too.")
        cert = None
        if self.client_cert:
            key = str(Path(self.client_key).expanduser()) if self.client_key else None
            cert = (str(Path(self.client_cert).expanduser()), key)
        if self.timeout <= 0:
            raise ConfigurationError(f"The HTTP timeout must be positive, not {self.timeout:g}.")
        return ConnectionSettings(
            url=deployment,
            verify=str(Path(self.ca_bundle).expanduser()) if self.ca_bundle else True,
            cert=cert,
            headers=headers,
            timeout=float(self.timeout),
            max_response_bytes=self._positive(self.max_response_bytes, "max_response_bytes"),
            deadline=self._positive(self.request_deadline, "request_deadline"),
        )

    @staticmethod
    def _positive(value: float, name: str) -> Any:
        if value <= 0:
            raise ConfigurationError(f"c.CoderConfig.{name} must be positive, not {value:g}.")
        return value
