"""How to reach a deployment: extra headers (static and from the header command), TLS and the
httpx client factories.

:class:`ConnectionSettings` is computed by :meth:`coder_jupyter._config.CoderConfig.connection_settings`;
everything that opens a connection to Coder (the OAuth engine, refresh, the REST clients) goes
through :func:`make_client` / :func:`make_async_client`, so TLS, headers, the timeout and the
``User-Agent`` are decided here once.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import _limits
from .errors import ConfigurationError

__all__ = [
    "ConnectionSettings",
    "make_async_client",
    "make_client",
    "parse_headers",
    "run_header_command",
    "ssl_context",
]


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_headers(lines: Iterable[str], *, source: str) -> dict[str, str]:
    """Parse ``key=value`` header lines (the Coder CLI's ``--header`` format).

    Blank lines are skipped; a later duplicate key wins. ``source`` names where the lines came
    from, for the error message, which never repeats a value (header values are often secrets).

    Raises:
        ConfigurationError: a line without ``=``, or a key that is not a valid header name.
    """
    headers: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigurationError(
                f"Header {number} from {source} is not of the form key=value (it has no '=').")
        if not key or not set(key) <= _TOKEN_CHARS:
            raise ConfigurationError(
                f"Header {number} from {source} has an invalid name; names are letters, digits and -_. only.")
        if "\n" in value or "\r" in value:
            raise ConfigurationError(f"Header {key!r} from {source} contains a line break.")
        headers[key] = value.strip()
    return headers


def run_header_command(command: str, *, url: str, timeout: float = 10.0) -> dict[str, str]:
    """Run ``command`` in a shell (``CODER_URL`` set to ``url``, like the Coder CLI) and parse its
    standard output as ``key=value`` lines.

    Raises:
        ConfigurationError: the command failed, timed out or printed a malformed line. The
            message says which and never includes the command's output.
    """
    what = "The header command (CODER_HEADER_COMMAND / c.CoderConfig.header_command)"
    argv = ["cmd", "/c", command] if sys.platform == "win32" else ["/bin/sh", "-c", command]
    try:
        done = subprocess.run(  # noqa: S603 - the user's own configured command, as in the Coder CLI
            argv, capture_output=True, timeout=timeout, env={**os.environ, "CODER_URL": url},
            stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigurationError(f"{what} did not finish within {timeout:g} s.") from None
    except OSError as exc:
        raise ConfigurationError(f"{what} could not be started ({type(exc).__name__}).") from None
    if done.returncode != 0:
        raise ConfigurationError(
            f"{what} exited with status {done.returncode}. Run it in a terminal to see why.")
    try:
        text = done.stdout.decode()
    except UnicodeDecodeError:
        raise ConfigurationError(f"{what} printed something that is not UTF-8 text.") from None
    return parse_headers(text.splitlines(), source="the header command")


def _user_agent() -> str:
    try:
        from ._version import __version__
    except ImportError:  # a source tree that was never built
        __version__ = "0.0.0"
    return f"coder-jupyter/{__version__}"


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach one deployment. ``headers`` may carry secrets (a proxy's credentials), so it
    is kept out of ``repr``.

    Attributes:
        url: the normalized deployment URL.
        verify: ``True`` (system/certifi trust), ``False`` (no verification) or a CA bundle path.
        cert: ``(certificate file, key file or None)`` for mutual TLS, or ``None``.
        headers: extra headers for every request (``CODER_HEADER`` + the header command).
        timeout: seconds for each network operation (connect at most 10 s).
        max_response_bytes: the response size cap (see :mod:`coder_jupyter._limits`).
        deadline: seconds one request may take overall, body included.
    """

    url: str
    verify: bool | str = True
    cert: tuple[str, str | None] | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)
    timeout: float = 30.0
    max_response_bytes: int = _limits.DEFAULT_MAX_RESPONSE_BYTES
    deadline: float = _limits.DEFAULT_DEADLINE


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """The :class:`ssl.SSLContext` for ``settings``: its CA bundle (else ``SSL_CERT_FILE``, else
    certifi) and its client certificate.

    Raises:
        ConfigurationError: a CA bundle or certificate that cannot be loaded.
    """
    if settings.verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        if isinstance(settings.verify, str):
            cafile = settings.verify
        else:
            import certifi

            cafile = os.environ.get("SSL_CERT_FILE") or certifi.where()
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"The CA bundle {cafile} could not be loaded ({exc.__class__.__name__}: {exc}). "
                "It must be a PEM file of certificates.") from None
    if settings.cert is not None:
        certfile, keyfile = settings.cert
        try:
            context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"The client certificate {certfile} could not be loaded ({exc.__class__.__name__}). "
                "Check that it is PEM and matches its key.") from None
    return context


def _client_options(settings: ConnectionSettings) -> dict[str, Any]:
    return {
        "base_url": settings.url,
        "verify": ssl_context(settings),
        "headers": {"User-Agent": _user_agent(), **settings.headers},
        "timeout": httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout)),
        "follow_redirects": False,
    }


def make_client(settings: ConnectionSettings, *, auth: httpx.Auth | None = None) -> httpx.Client:
    """An :class:`httpx.Client` for the deployment: ``base_url`` set, its TLS and headers, a
    ``User-Agent: coder-jupyter/<version>``, redirects not followed, HTTP/1.1.

    Raises:
        ConfigurationError: see :func:`ssl_context`.
    """
    client = httpx.Client(auth=auth, **_client_options(settings))
    _limits.attach(client, _limits.Limits(settings.max_response_bytes, settings.deadline))
    return client


def make_async_client(settings: ConnectionSettings, *, auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    """The :class:`httpx.AsyncClient` twin of :func:`make_client`."""
    client = httpx.AsyncClient(auth=auth, **_client_options(settings))
    _limits.attach(client, _limits.Limits(settings.max_response_bytes, settings.deadline))
    return client
