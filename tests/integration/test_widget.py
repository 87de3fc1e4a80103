"""The login widget, driven through a recording comm exactly as the front end drives it, with a
real AuthManager against the fake Coder over HTTP on 127.0.0.1.

The front end's side is played by delivering comm messages (``{"method": "custom", ...}``);
the browser's side by posting Coder's consent form with the user's session; the Jupyter
server's side by :func:`finish_login` (what the callback route calls). Every message the
kernel sends and the final widget state are checked for secrets.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import comm
import httpx
import ipywidgets
import pytest
from oauthhelpers import consent, query_of  # pytest puts this test directory on sys.path

from coder_jupyter import _flows as flows
from coder_jupyter._engine import finish_login
from coder_jupyter._login import AuthManager
from coder_jupyter._transport import drive
from coder_jupyter.errors import AccessDeniedError, LoginStateError
from coder_jupyter.testing import FakeCoder, fake_coder
from coder_jupyter.widget import MODULE_NAME, MODULE_VERSION, LoginWidget

REDIRECT = "http://127.0.0.1:8888/user/alice/coder/oauth/callback"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class RecordingComm:
    """A comm that records what the kernel sends and lets the test play the front end."""

    kernel = "recording"

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = "recording-comm"
        self.opened_with: dict[str, Any] = kwargs.get("data") or {}
        self.sent: list[dict[str, Any]] = []
        self._handler: Callable[[dict[str, Any]], None] | None = None
        self._changed = threading.Condition()

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, callback: Callable[[dict[str, Any]], None]) -> None:
        self._handler = callback

    def send(self, data: dict[str, Any] | None = None, metadata: Any = None, buffers: Any = None) -> None:
        with self._changed:
            self.sent.append(json.loads(json.dumps(data)))
            self._changed.notify_all()

    # -- the test's side --------------------------------------------------------------------------

    def click(self, content: dict[str, Any]) -> None:
        """Deliver a custom message from the front end, the way ipykernel's comm does."""
        assert self._handler is not None
        self._handler({"content": {"comm_id": self.comm_id, "data": {"method": "custom", "content": content}},
                       "buffers": []})

    def custom(self) -> list[dict[str, Any]]:
        """The custom messages the kernel sent to the front end, in order."""
        return [m["content"] for m in self.sent if m.get("method") == "custom"]

    def wait_for_custom(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(c.get("event") == event for c in self.custom()), timeout=timeout)
        assert found, f"no {event!r} message; got {self.custom()}"
        return next(c for c in self.custom() if c.get("event") == event)

    def everything(self) -> str:
        """All the kernel ever told the front end, as one string (to search for secrets)."""
        return json.dumps([self.opened_with, *self.sent])


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingComm]]:
    created: list[RecordingComm] = []

    def create_comm(**kwargs: Any) -> RecordingComm:
        created.append(RecordingComm(**kwargs))
        return created[-1]

    monkeypatch.setattr(comm, "create_comm", create_comm)
    yield created


@pytest.fixture
def fake() -> Iterator[FakeCoder]:
    with fake_coder(dcr=True) as deployment:
        yield deployment


def make_widget(auth: AuthManager, comms: list[RecordingComm],
                **kwargs: Any) -> tuple[LoginWidget, RecordingComm]:
    widget = LoginWidget(auth, **kwargs)
    assert widget.wait_idle(10)
    return widget, comms[-1]


def assert_free_of(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret and secret not in text


# -- rendering ----------------------------------------------------------------------------------


def test_new_widget_shows_a_logged_out_deployment_and_learns_that_oauth_is_offered(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    # Then the comm opened with the module, the view and the state
    state = recorder.opened_with["state"]
    assert (state["_model_module"], state["_model_name"], state["_view_name"]) == (
        "coder-jupyter", "LoginModel", "LoginView")
    assert state["_model_module_version"] == state["_view_module_version"] == MODULE_VERSION
    assert (state["deployment_url"], state["status"], state["username"], state["method"]) == (
        fake.url, "logged_out", "", "")
    # And discovery in the background told it OAuth is available
    assert widget.oauth_available is True
    assert {"method": "update", "state": {"oauth_available": True}, "buffer_paths": []} in recorder.sent


def test_module_version_is_the_npm_package_version() -> None:
    package = json.loads((Path(__file__).parents[2] / "labextension" / "package.json").read_text())
    assert (package["name"], package["version"]) == (MODULE_NAME, MODULE_VERSION)


def test_output_carries_text_and_html_instructions_for_front_ends_without_the_extension(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, _ = make_widget(AuthManager(fake.url), comms)
    # When
    bundle = widget._repr_mimebundle_()
    # Then
    assert bundle is not None and bundle[WIDGET_VIEW]["model_id"] == widget.model_id
    text = bundle["text/plain"]
    assert "%coder login --code" in text and "login_with_token(getpass())" in text
    assert "<code>%coder login --token</code>" in bundle["text/html"] and fake.url in bundle["text/html"]


# -- OAuth login --------------------------------------------------------------------------------


def test_full_login_opens_the_popup_then_shows_the_user_and_no_secret_ever_reaches_the_front_end(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    # When the user clicks Log in
    recorder.click({"event": "login", "redirect_uri": REDIRECT})
    opened = recorder.wait_for_custom("open")
    # Then the popup is sent to Coder's consent page for our callback
    assert opened["url"].startswith(f"{fake.url}/oauth2/authorize?")
    assert query_of(opened["url"])["redirect_uri"] == REDIRECT
    assert widget.status == "waiting" and widget.step == "Waiting for you to approve in the browser…"
    assert widget.timeout_at is not None
    pending = auth.pending_logins.latest_for(None)
    assert pending is not None
    # When the user approves and the Jupyter server finishes the login from the callback
    callback = consent(fake, opened["url"])
    finish_login(query_of(callback))
    recorder.click({"event": "check", "ok": True, "outcome": "logged_in"})
    assert widget.wait_idle(10)
    # Then
    assert (widget.status, widget.username, widget.method, widget.error, widget.step) == (
        "logged_in", fake.username, "oauth", "", "")
    assert [c["event"] for c in recorder.custom()] == ["open", "close_popup"]
    steps = [m["state"]["step"] for m in recorder.sent if "step" in m.get("state", {})]
    assert steps[:3] == ["Discovering the deployment…", "Registering Jupyter with Coder…",
                         "Waiting for you to approve in the browser…"]
    tokens = auth.credentials.current()
    registration = auth.store.load_registration()
    assert tokens is not None and tokens.refresh_token and registration is not None
    secrets = [tokens.access_token, tokens.refresh_token, query_of(callback)["code"], pending.code_verifier]
    secrets += [s for s in (registration.client_secret, registration.registration_access_token) if s]
    assert_free_of(recorder.everything(), secrets)
    # And a notebook saved now holds none of them
    assert_free_of(json.dumps(ipywidgets.Widget.get_manager_state()), secrets)


def test_cancel_abandons_the_login_and_closes_the_popup(fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    recorder.click({"event": "login", "redirect_uri": REDIRECT})
    opened = recorder.wait_for_custom("open")
    # When
    recorder.click({"event": "cancel"})
    # Then
    assert widget.wait_idle(10)
    assert (widget.status, widget.step, widget.timeout_at) == ("logged_out", "", None)
    assert recorder.custom()[-1] == {"event": "close_popup"}
    # And a late callback for that login is refused
    with pytest.raises(LoginStateError):
        finish_login(query_of(consent(fake, opened["url"])))


def test_login_gives_up_after_the_timeout_with_a_message_saying_what_to_do(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms, timeout=1)
    # When nobody approves
    recorder.click({"event": "login", "redirect_uri": REDIRECT})
    assert widget.wait_idle(10)
    # Then
    assert widget.status == "error"
    assert widget.error == "Login timed out after 1 second — click Log in to try again."
    assert [c["event"] for c in recorder.custom()] == ["open", "close_popup"]


def test_declining_on_the_consent_page_shows_why_when_the_popup_reports_it(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    recorder.click({"event": "login", "redirect_uri": REDIRECT})
    recorder.wait_for_custom("open")
    # When the callback page posts {ok: false, outcome: "access_denied"}
    recorder.click({"event": "check", "ok": False, "outcome": "access_denied"})
    # Then
    assert widget.wait_idle(10)
    assert widget.status == "error"
    assert widget.error == "You declined on Coder's consent page. Click Log in to try again."


def test_a_decline_finished_by_the_server_stays_shown_when_the_popups_check_arrives_late(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    recorder.click({"event": "login", "redirect_uri": REDIRECT})
    started_url = recorder.wait_for_custom("open")["url"]
    # When the Jupyter server handles the Cancel redirect (the kernel's worker learns it from the store)
    with pytest.raises(AccessDeniedError):
        finish_login(query_of(consent(fake, started_url, allow=False)))
    assert widget.wait_idle(10)
    assert widget.status == "error"
    shown = widget.error
    # and only then the popup's check message reaches the kernel
    recorder.click({"event": "check", "ok": False, "outcome": "access_denied"})
    # Then the reason stays on screen instead of being replaced by a bare "logged out"
    assert widget.wait_idle(10)
    assert (widget.status, widget.error) == ("error", shown)
    assert "denied" in shown.lower() or "declined" in shown.lower()


def test_a_session_coder_ended_shows_why_and_asks_to_log_in_again(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    started = auth.begin_login(REDIRECT)
    auth.finish_login(consent(fake, started.authorization_url))
    widget, _ = make_widget(auth, comms)
    assert widget.status == "logged_in"
    # Given another client rotated the tokens behind our back (so ours are refused)
    tokens, registration, metadata = (auth.credentials.current(), auth.store.load_registration(),
                                      auth.store.load_metadata())
    assert tokens and registration and metadata
    with httpx.Client() as client:
        drive(flows.refresh(metadata, registration, tokens), client)
    # When the kernel next uses the session (401 → refresh → invalid_grant) and the widget re-reads it
    assert auth.status(check=True).status == "error"
    widget.refresh()
    # Then it says logged out, and why
    assert widget.status == "logged_out"
    assert "log in again" in widget.error


def test_a_check_with_an_unknown_outcome_changes_nothing(fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    recorder.click({"event": "login", "redirect_uri": REDIRECT})
    recorder.wait_for_custom("open")
    # When
    recorder.click({"event": "check", "ok": False, "outcome": "<script>alert(1)</script>"})
    # Then
    assert widget.status == "waiting" and "script" not in recorder.everything()
    recorder.click({"event": "cancel"})
    assert widget.wait_idle(10)


def test_a_login_without_a_usable_redirect_uri_is_refused(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    # When
    recorder.click({"event": "login", "redirect_uri": "javascript:alert(1)"})
    # Then
    assert widget.status == "error" and "callback address" in widget.error
    assert recorder.custom() == [{"event": "close_popup"}]


def test_a_deployment_without_oauth_leads_with_the_token_path_and_login_explains(
        comms: list[RecordingComm]) -> None:
    with fake_coder(oauth2=False) as fake:
        widget, recorder = make_widget(AuthManager(fake.url), comms)
        assert widget.oauth_available is False and widget.status == "logged_out"
        # When
        recorder.click({"event": "login", "redirect_uri": REDIRECT})
        assert widget.wait_idle(10)
        # Then
        assert widget.status == "error" and "token" in widget.error.lower()
        assert "open" not in [c["event"] for c in recorder.custom()]


# -- API token, logout ----------------------------------------------------------------------------


def test_a_pasted_token_logs_in_and_never_enters_widget_state(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    token = fake.session_token
    # When
    recorder.click({"event": "token", "token": f"  {token}\n"})
    assert widget.wait_idle(10)
    # Then
    assert (widget.status, widget.username, widget.method) == ("logged_in", fake.username, "token")
    assert_free_of(recorder.everything(), [token])
    assert_free_of(json.dumps(widget.get_state()), [token])
    assert_free_of(repr(widget), [token])


def test_a_refused_token_shows_coders_reason_without_echoing_it(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    bogus = "AbCdEfGhIj-0123456789abcdefghijkl"
    # When
    recorder.click({"event": "token", "token": bogus})
    assert widget.wait_idle(10)
    # Then
    assert widget.status == "error" and widget.error
    assert_free_of(recorder.everything(), [bogus])


def test_an_empty_token_is_refused_at_once(fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    recorder.click({"event": "token", "token": "   "})
    assert widget.status == "error" and "empty" in widget.error


def test_logout_forgets_the_login(fake: FakeCoder, comms: list[RecordingComm]) -> None:
    auth = AuthManager(fake.url)
    widget, recorder = make_widget(auth, comms)
    recorder.click({"event": "token", "token": fake.session_token})
    assert widget.wait_idle(10) and widget.status == "logged_in"
    # When
    recorder.click({"event": "logout"})
    assert widget.wait_idle(10)
    # Then
    assert (widget.status, widget.username, widget.method) == ("logged_out", "", "")
    assert auth.status().status == "logged_out"


def test_a_check_outside_a_login_picks_up_a_login_made_elsewhere(
        fake: FakeCoder, comms: list[RecordingComm]) -> None:
    widget, recorder = make_widget(AuthManager(fake.url), comms)
    # When another kernel of the same user logs in, and the status-bar login's popup reports
    AuthManager(fake.url).login_with_token(fake.session_token)
    recorder.click({"event": "check", "ok": True, "outcome": "logged_in"})
    # Then
    assert (widget.status, widget.username) == ("logged_in", fake.username)
