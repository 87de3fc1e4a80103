"""Request signing and token refresh: :class:`CoderAuth` (an :class:`httpx.Auth`) over a
:class:`Credentials` keeper.

**Which header.** Requests carry ``Coder-Session-Token: <token>``. Every Coder generation accepts
it (the oldest accept nothing else; Bearer came with RFC 6750 support), it is what Coder's own
SDK, CLI and IDE plugins send, and OAuth access tokens are ordinary Coder API keys.

**Refresh.** An OAuth access token is refreshed shortly before it expires (``margin``) and once
after a 401. Exactly one refresh runs at a time for a deployment:

* in the process, a :class:`threading.Lock` (async requests run the refresh in a worker thread,
  so they share the same lock and never block the event loop);
* across processes (other kernels, the Jupyter server), the store's file lock. Under it the
  store is re-read: if another process already rotated the tokens, theirs are adopted and no
  request is sent, so a rotating refresh token is never spent twice.

``invalid_grant`` (or ``invalid_client``) on refresh means the session is over: the tokens are
deleted and :class:`~coder_jupyter.errors.NotLoggedInError` says "log in again". Transient
failures (network, 5xx, 429) are retried with backoff and never drop the credentials.

**Noticing other processes.** Each request costs one ``stat`` (``store.stamp()``); when the
stamp moved, the tokens are re-read, so a login, refresh or logout done elsewhere is picked up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

import anyio.to_thread
import httpx

from . import _flows as flows
from ._oauth.models import AuthServerMetadata, ClientRegistration, TokenSet
from ._oauth.responses import is_transient
from ._transport import drive
from .errors import CoderError, InvalidClientError, InvalidGrantError, NotLoggedInError

__all__ = ["SESSION_HEADER", "CoderAuth", "Credentials", "TokenStore"]

log = logging.getLogger(__name__)

SESSION_HEADER = flows.SESSION_HEADER


class TokenStore(Protocol):
    """What :class:`Credentials` needs from the per-deployment store (``_store.Store``)."""

    def load_tokens(self) -> TokenSet | None: ...
    def save_tokens(self, tokens: TokenSet) -> None: ...
    def delete_tokens(self) -> None: ...
    def load_metadata(self) -> AuthServerMetadata | None: ...
    def save_metadata(self, metadata: AuthServerMetadata) -> None: ...
    def load_registration(self) -> ClientRegistration | None: ...
    def delete_registration(self) -> None: ...
    def lock(self) -> AbstractContextManager[object]: ...
    def stamp(self) -> Hashable: ...


class TokenSources(Protocol):
    """The ordered credential sources (``_credentials.CredentialSources``), asked on every request."""

    def order(self) -> Sequence[str]: ...
    def fixed_token(self, method: str) -> str | None: ...


class Credentials:
    """The credentials of one deployment, kept current across threads and processes.

    Args:
        deployment_url: the normalized deployment URL.
        store: the deployment's store, or ``None`` for a fixed token that is never persisted.
        client_factory: makes the plain (unauthenticated) :class:`httpx.Client` used for refresh,
            with the deployment's TLS and header settings.
        sources: the ordered credential sources, walked on every request (``"store"`` in
            :meth:`TokenSources.order` ranks the store; every other method is a fixed token,
            never refreshed or stored: explicit, ``CODER_SESSION_TOKEN``, the Coder CLI's
            session). ``None``: the store only.
        clock: Unix seconds.
        margin: refresh this many seconds before expiry.
        backoff: the pauses between refresh attempts on transient errors (its length + 1 attempts).
        client_for: the OAuth2 client that tokens of a given ``client_id`` refresh with (an
            admin's pre-registered app, or our registration); default: the stored registration.
    """

    def __init__(
        self,
        deployment_url: str,
        store: TokenStore | None,
        client_factory: Callable[[], httpx.Client],
        *,
        sources: TokenSources | None = None,
        clock: Callable[[], float] = time.time,
        margin: float = 60.0,
        backoff: Sequence[float] = (0.5, 2.0),
        client_for: Callable[[str | None, AuthServerMetadata | None],
                             ClientRegistration | None] | None = None,
    ) -> None:
        self.deployment_url = deployment_url
        self._client_for = client_for
        self.store = store
        self._client_factory = client_factory
        self._sources = sources
        self._fixed: dict[str, TokenSet] = {}  # one TokenSet per fixed token, so identity is stable
        self._reported: str | None = None
        self.clock = clock
        self.margin = margin
        self.backoff = tuple(backoff)
        self._lock = threading.RLock()
        self._tokens: TokenSet | None = None
        self._stamp: Hashable = None
        self._loaded = False
        #: Why the credentials were dropped (safe to show), until the next login.
        self.ended: str | None = None

    # -- reading --------------------------------------------------------------------------------

    def current(self) -> TokenSet | None:
        """The tokens in use now (see :meth:`resolve`)."""
        return self.resolve()[0]

    def resolve(self) -> tuple[TokenSet | None, str | None]:
        """The tokens in use now and their source (``"store"`` or a fixed token's method), found
        by walking the sources in order on every call: a login or logout anywhere is seen."""
        for method in self._sources.order() if self._sources is not None else ("store",):
            if method == "store":
                tokens = self._stored()
                if tokens is not None:
                    return tokens, "store"
            elif self._sources is not None:
                token = self._sources.fixed_token(method)
                if token:
                    return self._fixed_tokens(method, token), method
        return None, None

    def _fixed_tokens(self, method: str, token: str) -> TokenSet:
        known = self._fixed.get(method)
        if known is None or known.access_token != token:
            known = self._fixed[method] = TokenSet(access_token=token, method="token")
        return known

    def _is_fixed(self, tokens: TokenSet) -> bool:
        return any(tokens is known for known in self._fixed.values())

    def _stored(self) -> TokenSet | None:
        if self.store is None:
            return self._tokens
        stamp = self.store.stamp()
        if not self._loaded or stamp != self._stamp:
            with self._lock:
                self._stamp = stamp
                self._tokens = self.store.load_tokens()
                self._loaded = True
                if self._tokens is not None:
                    self.ended = None
        return self._tokens

    def changed(self) -> bool:
        """True (once per change) if the credentials changed since the last call: a login,
        refresh or logout here or in another process. The first call only takes a reference."""
        tokens = self.current()
        key = f"{tokens.method}:{tokens.access_token}" if tokens is not None else ""
        before, self._reported = self._reported, key
        return before is not None and before != key

    def needs_refresh(self, tokens: TokenSet | None) -> bool:
        """True if ``tokens`` are refreshable OAuth tokens within ``margin`` of expiry."""
        return (tokens is not None and tokens.refresh_token is not None and not self._is_fixed(tokens)
                and tokens.expires_within(self.margin, now=self.clock()))

    # -- writing --------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this process's lock, then the store's: the one order every writer uses.

        A refresh takes them in this order (it must not refresh twice in one process, then must
        re-read the store under its lock); a login or logout that took the store's lock first and
        then this one could deadlock with a refresh on another thread.
        """
        with self._lock, (self.store.lock() if self.store is not None else nullcontext()):
            yield

    def replace(self, tokens: TokenSet) -> None:
        """Adopt freshly obtained tokens (after a login) and persist them."""
        with self._lock:
            if self.store is not None:
                self.store.save_tokens(tokens)
                self._stamp = self.store.stamp()
            self._tokens, self._loaded, self.ended = tokens, True, None

    def reload(self) -> None:
        """Re-read the store at the next request (after this process wrote it another way)."""
        with self._lock:
            self._loaded = False

    def forget(self, reason: str | None = None) -> None:
        """Drop the tokens here and in the store."""
        with self._lock:
            if self.store is not None:
                self.store.delete_tokens()
                self._stamp = self.store.stamp()
            self._tokens, self._loaded, self.ended = None, True, reason

    # -- refresh --------------------------------------------------------------------------------

    def refresh(self, seen: TokenSet) -> TokenSet:
        """Refresh ``seen`` unless someone already did; single flight across threads and processes.

        Returns:
            The newest tokens: another thread's or process's refresh, or our own.

        Raises:
            NotLoggedInError: the session ended (refresh token refused, or logged out elsewhere);
                the credentials are gone.
            TransportError, OAuthError: transient failures after the retries; credentials kept.
        """
        if self.store is None or seen.refresh_token is None:
            raise NotLoggedInError(self._ended_message("the token cannot be refreshed"))
        with self._lock:
            mine = self.current()
            if mine is None:
                raise NotLoggedInError(self.ended or self._ended_message("you were logged out"))
            if mine.access_token != seen.access_token:
                return mine  # another thread (or process) refreshed meanwhile
            with self.store.lock():
                disk = self.store.load_tokens()
                if disk is None or disk.access_token != seen.access_token:
                    self._tokens, self._stamp = disk, self.store.stamp()
                    if disk is None:
                        raise NotLoggedInError(self._ended_message("you were logged out in another process"))
                    log.debug("adopted tokens another process refreshed for %s", self.deployment_url)
                    return disk
                new = self._refresh_with_retries(disk)
                self.store.save_tokens(new)
                self._tokens, self._stamp = new, self.store.stamp()
                log.debug("refreshed the Coder session for %s", self.deployment_url)
                return new

    def _refresh_with_retries(self, tokens: TokenSet) -> TokenSet:
        assert self.store is not None
        metadata = self.store.load_metadata()
        if self._client_for is not None:
            registration = self._client_for(tokens.client_id, metadata)
        else:
            registration = self.store.load_registration()
        if registration is None or (tokens.client_id and registration.client_id != tokens.client_id):
            self._drop("the OAuth2 client registration it belongs to is gone")
        assert registration is not None
        delays = iter(self.backoff)
        with self._client_factory() as client:
            while True:
                try:
                    if metadata is None:
                        metadata = drive(flows.discover(self.deployment_url), client)
                        self.store.save_metadata(metadata)
                    return drive(flows.refresh(metadata, registration, tokens, clock=self.clock), client)
                except (InvalidGrantError, InvalidClientError) as exc:
                    if isinstance(exc, InvalidClientError):
                        self.store.delete_registration()
                    self._drop(f"Coder refused to renew it: {exc.error}")
                except CoderError as exc:
                    delay = next(delays, None)
                    if not is_transient(exc) or delay is None:
                        raise
                    log.warning("Refreshing the Coder session failed (%s); retrying in %.1f s",
                                type(exc).__name__, delay)
                    time.sleep(delay)

    def _ended_message(self, why: str) -> str:
        return (f"Your Coder session for {self.deployment_url} has ended ({why}) — log in again: "
                f"click \"Log in\", run %coder login, or call coder.auth.begin_login().")

    def _drop(self, why: str) -> None:
        message = self._ended_message(why)
        assert self.store is not None
        self.store.delete_tokens()
        self._tokens, self._stamp, self.ended = None, self.store.stamp(), message
        raise NotLoggedInError(message)

    # -- per request ------------------------------------------------------------------------------

    def token_for_request(self) -> str | None:
        """The token to send now, refreshing first if it is about to expire.

        A transient refresh failure is logged and the current token sent anyway (Coder slides
        expiry on use, so it may still work); a refused refresh raises NotLoggedInError.
        """
        tokens = self.current()
        if tokens is not None and self.needs_refresh(tokens):
            try:
                tokens = self.refresh(tokens)
            except NotLoggedInError:
                raise
            except CoderError as exc:
                if not is_transient(exc):
                    raise
        return tokens.access_token if tokens is not None else None

    def token_after_401(self, sent: str) -> str | None:
        """The token to retry with after ``sent`` got a 401, or ``None`` to give up (no retry)."""
        tokens = self.current()
        if tokens is None or self._is_fixed(tokens):
            return None
        if tokens.access_token != sent:
            return tokens.access_token  # the store moved on meanwhile
        if tokens.refresh_token is None:
            return None
        seen = TokenSet(access_token=sent, refresh_token=tokens.refresh_token)
        return self.refresh(seen).access_token


class CoderAuth(httpx.Auth):
    """:class:`httpx.Auth` for Coder: signs with ``Coder-Session-Token``, refreshes before expiry
    and once on a 401 (see the module docstring). Give it to both the sync and async client::

        httpx.Client(base_url=url, auth=CoderAuth(credentials))
    """

    requires_request_body = True  # a 401 may be retried with the same body

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"CoderAuth({self.credentials.deployment_url!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign, send, and on a 401 refresh (or adopt) once and resend."""
        token = self.credentials.token_for_request()
        response = yield self._sign(request, token)
        if response.status_code == 401 and token is not None:
            retry = self.credentials.token_after_401(token)
            if retry is not None and retry != token:
                yield self._sign(request, retry)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Async twin: the same steps; refreshes run in a worker thread under the same locks."""
        creds = self.credentials
        tokens = creds.current()
        if creds.needs_refresh(tokens):
            token = await anyio.to_thread.run_sync(creds.token_for_request)
        else:
            token = tokens.access_token if tokens is not None else None
        response = yield self._sign(request, token)
        if response.status_code == 401 and token is not None:
            retry = await anyio.to_thread.run_sync(creds.token_after_401, token)
            if retry is not None and retry != token:
                yield self._sign(request, retry)

    @staticmethod
    def _sign(request: httpx.Request, token: str | None) -> httpx.Request:
        if token is not None:
            request.headers[SESSION_HEADER] = token
        else:
            request.headers.pop(SESSION_HEADER, None)
        return request
