"""The cross-process refresh lock, isolated: a refresh that finds the store's lock held waits for
it, then adopts the tokens the holder rotated instead of spending the refresh token again.

The racing-processes test (test_refresh_processes.py) covers the same defence end to end, but
whether its processes actually overlap depends on scheduling. Here the overlap is forced: the
test holds the lock, waits for the event "the refresh is blocked on the lock" (filelock's own
debug log record), rotates the tokens as another process would, then lets go. No sleeps.
"""

from __future__ import annotations

import logging
import threading

import pytest
from oauthhelpers import login_by_consent  # pytest puts this test directory on sys.path

from coder_jupyter._login import AuthManager
from coder_jupyter._oauth.models import TokenSet
from coder_jupyter._store import Store
from coder_jupyter.testing import FakeCoder

pytestmark = pytest.mark.coder_fake(access_token_ttl=600, dcr=True)


class _BlockedOnLock(logging.Handler):
    """Sets ``event`` when filelock reports that ``thread_name`` is waiting for a held lock."""

    def __init__(self, thread_name: str, event: threading.Event) -> None:
        super().__init__(logging.DEBUG)
        self.thread_name, self.event, self.fired = thread_name, event, False

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == self.thread_name and "not acquired" in str(record.msg):
            self.fired = True
            self.event.set()


def test_a_refresh_blocked_on_the_store_lock_adopts_the_holders_rotation(coder_fake: FakeCoder) -> None:
    auth = login_by_consent(coder_fake)
    seen = auth.credentials.current()
    assert seen is not None
    coder_fake.advance(601)
    other = AuthManager(coder_fake.url)  # stands in for another kernel of the same user
    progress = threading.Event()  # the refresh is blocked on the lock, or it has finished
    outcome: list[TokenSet | BaseException] = []

    def refresh() -> None:
        try:
            outcome.append(auth.credentials.refresh(seen))
        except BaseException as exc:  # reported by the assertions below
            outcome.append(exc)
        finally:
            progress.set()

    worker = threading.Thread(target=refresh, name="refresh-under-test", daemon=True)
    filelock_log = logging.getLogger("filelock")
    handler = _BlockedOnLock(worker.name, progress)
    old_level = filelock_log.level
    filelock_log.setLevel(logging.DEBUG)
    filelock_log.addHandler(handler)
    try:
        with Store(auth.store.deployment_url).lock():
            worker.start()
            assert progress.wait(30)
            # When the refresh is waiting for the lock, the holder rotates the tokens meanwhile
            assert handler.fired and not outcome, f"the refresh did not wait for the store lock: {outcome}"
            rotated = other.credentials.refresh(seen)
        worker.join(30)
    finally:
        filelock_log.removeHandler(handler)
        filelock_log.setLevel(old_level)

    # Then the waiting refresh adopted the holder's tokens: one refresh reached Coder
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], TokenSet), outcome
    assert outcome[0].access_token == rotated.access_token != seen.access_token
    assert coder_fake.request_counts()["POST", "/oauth2/tokens"] == 1
