"""`coder.wait_for_login()` / `await coder.await_login()`: what "Run all" notebooks and scripts use."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from oauthhelpers import REDIRECT, consent  # pytest puts this test directory on sys.path

from coder_jupyter import AsyncCoder, Coder
from coder_jupyter._engine import finish_login
from coder_jupyter.errors import LoginTimeoutError, NotLoggedInError
from coder_jupyter.testing import fake_coder


def test_wait_for_login_returns_at_once_when_already_logged_in() -> None:
    with fake_coder(dcr=True) as fake, Coder(fake.url, token=fake.session_token) as coder:
        assert coder.wait_for_login(timeout=0).status == "logged_in"


def test_wait_for_login_returns_when_the_browser_login_completes_elsewhere() -> None:
    with fake_coder(dcr=True) as fake, Coder(fake.url) as coder:
        with pytest.raises(NotLoggedInError, match="Log in"):
            coder.me()
        started = coder.auth.begin_login(redirect_uri=REDIRECT)
        callback = consent(fake, started.authorization_url)
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        # When the Jupyter server finishes the login (a thread stands in for that process)
        server = threading.Thread(target=finish_login, args=(query,))
        server.start()
        # Then the waiting client wakes up logged in
        assert coder.wait_for_login(timeout=10).status == "logged_in"
        server.join()
        assert coder.me().username == fake.username


def test_wait_for_login_without_a_login_times_out_plainly() -> None:
    with fake_coder(dcr=True) as fake, Coder(fake.url) as coder, \
            pytest.raises(LoginTimeoutError, match="Log in"):
        coder.wait_for_login(timeout=0.3)


async def test_await_login_is_the_async_twin() -> None:
    with fake_coder(dcr=True) as fake:
        async with AsyncCoder(fake.url, token=fake.session_token) as coder:
            assert (await coder.await_login(timeout=0)).status == "logged_in"
