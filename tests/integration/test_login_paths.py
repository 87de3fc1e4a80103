"""The ways a login comes back to the kernel without the Jupyter server's route: the kernel's
loopback listener (and the probe a notebook page uses to find out whether it reaches it), and
pasting the address the browser shows after Allow. Real HTTP against the fake Coder."""

from __future__ import annotations

import threading

import httpx
import pytest
from oauthhelpers import consent  # pytest puts this test directory on sys.path

from coder_jupyter._login import AuthManager
from coder_jupyter._loopback import LoopbackListener
from coder_jupyter.errors import LoginCancelledError, LoginStateError
from coder_jupyter.testing import FakeCoder

pytestmark = pytest.mark.coder_fake(dcr=True)

PAGE = "https://hub.example.com"


def test_the_probe_answers_the_page_origin_only_and_carries_no_secret() -> None:
    with LoopbackListener(probe_origin=PAGE) as listener:
        listener.expect("the-state")
        # When the notebook page probes
        ok = httpx.get(listener.probe_url, headers={"Origin": PAGE})
        # Then it may read the answer: CORS for its origin, the listener's word, nothing else
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == PAGE
        assert ok.json() == {"coder_jupyter": listener.probe_token}
        assert "the-state" not in ok.text
        # When another web page probes, its browser gets no CORS permission to read the answer
        other = httpx.get(listener.probe_url, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        # And Chrome's Private Network Access preflight is allowed for the page only
        pre = httpx.request("OPTIONS", listener.probe_url, headers={
            "Origin": PAGE, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-private-network"] == "true"
        pre_other = httpx.request("OPTIONS", listener.probe_url, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-private-network" not in pre_other.headers


def test_a_listener_without_a_page_origin_has_no_probe() -> None:
    with LoopbackListener() as listener:
        assert httpx.get(listener.probe_url, headers={"Origin": PAGE}).status_code == 404


def test_closing_the_listener_ends_a_wait() -> None:
    listener = LoopbackListener()
    threading.Timer(0.1, listener.close).start()
    with pytest.raises(LoginCancelledError):
        listener.wait(30)


def test_a_page_login_through_the_kernels_listener(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    listener = auth.open_listener(probe_origin=PAGE)
    started = auth.begin_listener_login(timeout=30)
    assert started.redirect_uri == listener.redirect_uri
    # When the browser approves and Coder sends it to the listener
    location = consent(coder_fake, started.authorization_url)
    assert location.startswith(f"http://127.0.0.1:{listener.port}/callback?")
    page = httpx.get(location, timeout=30)
    # Then the page says so, and the session is logged in
    assert f"Logged in to Coder as {coder_fake.username}" in page.text
    status = auth.wait_for_login(10)
    assert (status.status, status.username) == ("logged_in", coder_fake.username)
    auth.close_listener()
    assert not auth.listening


def test_a_pasted_address_finishes_the_login_and_garbage_keeps_it_waiting(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.open_listener()
    started = auth.begin_listener_login(timeout=30)
    location = consent(coder_fake, started.authorization_url)
    # When the user pastes something that is not the address, it is refused without echo
    with pytest.raises(LoginStateError) as refused:
        auth.finish_pasted("hello, this is not it")
    assert "hello" not in str(refused.value)
    assert auth.status().status == "waiting"
    # When the real address is pasted (the browser never reached the listener)
    status = auth.finish_pasted(location)
    # Then the login is done
    assert (status.status, status.username) == ("logged_in", coder_fake.username)
    assert auth.wait_for_login(5).status == "logged_in"
    auth.close_listener()


def test_an_empty_paste_cancels(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    with pytest.raises(LoginCancelledError):
        auth.login_paste(prompt=lambda _: "  ", show=lambda _: None, timeout=30)
    assert auth.status().status == "logged_out"


def test_closing_the_session_listener_while_it_finishes_a_login_still_answers_the_browser(
        coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    listener = auth.open_listener()
    started = auth.begin_listener_login(timeout=30)
    location = consent(coder_fake, started.authorization_url)
    pages: list[str] = []
    browser = threading.Thread(target=lambda: pages.append(httpx.get(location, timeout=30).text))
    browser.start()
    # When the widget closes the listener the moment the callback has arrived (e.g. the login
    # just finished, or the user clicked Cancel)
    listener._received.wait(10)
    auth.close_listener()
    browser.join(30)
    # Then the browser's page still tells how the login ended
    assert f"Logged in to Coder as {coder_fake.username}" in pages[0]
    assert auth.wait_for_login(10).status == "logged_in"


def test_an_oversized_paste_is_refused_before_it_is_parsed(coder_fake: FakeCoder) -> None:
    auth = AuthManager(coder_fake.url)
    auth.open_listener()
    started = auth.begin_listener_login(timeout=30)
    with pytest.raises(LoginStateError):
        auth.finish_pasted(f"http://127.0.0.1:1/callback?state={started.state}&code=" + "x" * 10_000)
    assert auth.status().status == "waiting"
    auth.close_listener()
