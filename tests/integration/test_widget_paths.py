"""The widget choosing the way a login comes back, driven through the recording comm of
test_widget.py exactly as the front end drives it: the page's facts (server route, listener
probe), "Didn't work?", and the pasted address. Real AuthManager, fake Coder over HTTP."""
# ruff: noqa: F811  (the comms and fake fixtures come from test_widget.py and are parameters here)

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import ipywidgets
from oauthhelpers import consent, query_of  # pytest puts this test directory on sys.path
from test_widget import RecordingComm, assert_free_of, comms, fake, make_widget  # noqa: F401 (fixtures)

from coder_jupyter._login import AuthManager
from coder_jupyter.testing import FakeCoder

PAGE = "http://127.0.0.1:8888"
SERVER_REDIRECT = f"{PAGE}/user/alice/coder/oauth/callback"
LAN_REDIRECT = "http://10.0.0.5:8888/coder/oauth/callback"
LOOPBACK = re.compile(r"^http://127\.0\.0\.1:\d+/callback$")


def _until(recorder: RecordingComm, condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds; checked whenever the kernel sends the front end something."""
    with recorder._changed:
        assert recorder._changed.wait_for(condition, timeout=10)


def test_a_plain_http_lan_page_skips_the_server_route_and_a_pasted_address_finishes_the_login(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    # When a plain-http page on a LAN address (with the server extension loaded) clicks Log in
    recorder.click({"event": "login", "redirect_uri": LAN_REDIRECT, "server_route": True, "skip": []})
    probe = recorder.wait_for_custom("probe")
    # Then the server route is not used, and the widget says why in one line
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/probe", probe["url"]) and probe["expect"]
    assert "plain http on 10.0.0.5" in widget.path_note
    # When the page cannot reach the kernel's listener
    recorder.click({"event": "probed", "ok": False})
    opened = recorder.wait_for_custom("open")
    # Then the login goes to a loopback redirect and the widget asks for the final address
    redirect = query_of(opened["url"])["redirect_uri"]
    assert LOOPBACK.match(redirect)
    assert (widget.login_path, widget.status) == ("paste", "waiting")
    assert widget.path_note.startswith("Signing in by pasting the final address")
    # When the user pastes something else, the widget says so and keeps waiting
    recorder.click({"event": "paste", "url": "not the address"})
    _until(recorder, lambda: "not the address your browser showed" in widget.error)
    assert widget.status == "waiting"
    # When the user approves and pastes the address the browser could not open
    callback = consent(fake, opened["url"])
    recorder.click({"event": "paste", "url": callback})
    assert widget.wait_idle(10)
    # Then the widget is logged in, the listener is closed, and the code went nowhere
    assert (widget.status, widget.username, widget.error) == ("logged_in", fake.username, "")
    assert not auth.listening
    tokens = auth.credentials.current()
    assert tokens is not None
    secrets = [query_of(callback)["code"], tokens.access_token]
    assert_free_of(recorder.everything(), secrets)
    assert_free_of(json.dumps(ipywidgets.Widget.get_manager_state()), secrets)


def test_a_page_that_reaches_the_listener_logs_in_through_it(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    # When a page whose Jupyter server has no coder-jupyter extension clicks Log in
    recorder.click({"event": "login", "redirect_uri": SERVER_REDIRECT, "server_route": False})
    probe = recorder.wait_for_custom("probe")
    # Then the listener answers the page's probe (its origin only) with the word the kernel sent
    answer = httpx.get(probe["url"], headers={"Origin": PAGE})
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert answer.json() == {"coder_jupyter": probe["expect"]}
    assert "no coder-jupyter extension" in widget.path_note
    # When the page reports it reached the listener
    recorder.click({"event": "probed", "ok": True})
    opened = recorder.wait_for_custom("open")
    assert widget.login_path == "loopback"
    assert widget.path_note.startswith("Signing in through a local listener in your kernel")
    # And the browser approves and lands on the listener
    page = httpx.get(consent(fake, opened["url"]), timeout=30)
    # Then the page and the widget say logged in
    assert f"Logged in to Coder as {fake.username}" in page.text
    assert widget.wait_idle(10)
    assert (widget.status, widget.username) == ("logged_in", fake.username)
    assert recorder.custom()[-1] == {"event": "close_popup"}


def test_an_answer_to_an_abandoned_probe_is_ignored(fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    recorder.click({"event": "login", "redirect_uri": SERVER_REDIRECT, "server_route": False})
    recorder.wait_for_custom("probe")
    # When the user cancels before the page answers, then the answer arrives
    recorder.click({"event": "cancel"})
    recorder.click({"event": "probed", "ok": True})
    assert widget.wait_idle(10)
    # Then no login starts and the listener is closed
    assert widget.status == "cancelled"  # the neutral state a Cancel shows (not an error)
    assert "open" not in [c["event"] for c in recorder.custom()]
    assert not auth.listening


def test_didnt_work_moves_down_the_paths_and_ends_at_the_token(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    # When the server route did not work, the next login probes the kernel's listener
    recorder.click({"event": "login", "redirect_uri": SERVER_REDIRECT, "server_route": True,
                    "skip": ["server", "no-such-path", 7]})
    recorder.wait_for_custom("probe")
    # When the listener did not work either ("Didn't work?" on the loopback path), the same
    # login continues by pasting
    recorder.click({"event": "probed", "ok": True})
    recorder.wait_for_custom("open")
    assert widget.login_path == "loopback"
    recorder.click({"event": "paste_instead"})
    assert widget.login_path == "paste" and widget.status == "waiting"
    # When every browser path was skipped, the widget leads with the API token
    recorder.click({"event": "login", "redirect_uri": SERVER_REDIRECT, "server_route": True,
                    "skip": ["server", "loopback", "paste"]})
    assert widget.wait_idle(10)
    assert (widget.login_path, widget.status) == ("token", "logged_out")
    assert widget.path_note.startswith("Signing in with an API token")
    assert not auth.listening


def test_a_paste_outside_a_login_is_ignored(fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    recorder.click({"event": "paste", "url": "http://127.0.0.1:1/callback?code=x&state=y"})
    assert widget.wait_idle(10)
    assert (widget.status, widget.error) == ("logged_out", "")
