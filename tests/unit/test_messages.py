"""The words people read: the status report, our errors in IPython, the cancel page."""

from __future__ import annotations

import sys
import traceback

import pytest

from coder_jupyter._login import AuthStatus
from coder_jupyter.errors import FULL_TRACEBACKS_ENV, CoderError, NotLoggedInError
from coder_jupyter.kernel._display import status_lines, summary
from coder_jupyter.serverext.pages import Page, render_page

URL = "https://coder.example.com"
NOW = 1_800_000_000.0

# -- %coder status ------------------------------------------------------------------------------


def test_the_status_is_one_human_sentence_with_host_user_method_and_time_left() -> None:
    status = AuthStatus(URL, "logged_in", method="oauth", username="alice", expires_at=NOW + 58 * 60,
                        oauth_available=True)
    assert summary(status, now=NOW) == (
        "Logged in to coder.example.com as alice (OAuth, expires in 58 min, renewed automatically).")
    lines = status_lines(status, now=NOW)
    assert lines[0] == summary(status, now=NOW)
    assert not any("logged_in" in line for line in lines)  # never the raw state name
    assert not any(line.startswith("Checked") for line in lines)


def test_a_token_without_expiry_and_an_expired_session_read_naturally() -> None:
    token = AuthStatus(URL, "logged_in", method="token", username="bob")
    assert summary(token, now=NOW) == "Logged in to coder.example.com as bob (API token, no expiry)."
    expired = AuthStatus(URL, "expired", method="token", expires_at=NOW - 3 * 3600)
    assert summary(expired, now=NOW).startswith("The session for coder.example.com has expired (API token, "
                                                "expired 3 h ago)")
    assert "%coder login" in summary(expired, now=NOW)


def test_check_says_a_check_ran_and_what_it_found() -> None:
    ok = AuthStatus(URL, "logged_in", method="env", username="alice")
    assert status_lines(ok, checked=True, now=NOW)[1] == (
        "Checked with Coder just now: the token works (Coder says it belongs to alice).")
    refused = AuthStatus(URL, "error", method="env", error="Coder refused the session (401).")
    checked = status_lines(refused, checked=True, now=NOW)
    assert checked[1].startswith("Checked with Coder just now: it failed — Coder refused the session (401).")
    assert checked[0] == ("Credentials for coder.example.com (CODER_SESSION_TOKEN) are in use, but Coder did "
                          "not accept them.")
    assert "%coder login" in checked[1]
    nobody = AuthStatus(URL, "logged_out")
    assert "nothing to check" in status_lines(nobody, checked=True, now=NOW)[1]


# -- our errors in IPython --------------------------------------------------------------------------


def _raised_through_our_code() -> NotLoggedInError:
    from coder_jupyter import _public  # any module of ours: the frame that raises is "internal"

    code = compile("def boom():\n    raise NotLoggedInError('Not logged in — run %coder login.')\n",
                   _public.__file__, "exec")
    namespace: dict[str, object] = {"NotLoggedInError": NotLoggedInError}
    exec(code, namespace)  # a frame that claims to be inside the package
    try:
        namespace["boom"]()  # type: ignore[operator]
    except NotLoggedInError as exc:
        return exc
    raise AssertionError("not raised")


def test_an_error_of_ours_renders_as_its_message_and_the_callers_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FULL_TRACEBACKS_ENV, raising=False)
    exc = _raised_through_our_code()
    lines = exc._render_traceback_()
    assert lines[0] == "NotLoggedInError: Not logged in — run %coder login."
    assert "namespace[\"boom\"]()" in lines[1] and __file__ in lines[1]  # this test is "the user"
    assert "%coder traceback" in lines[-1] and FULL_TRACEBACKS_ENV in lines[-1]
    assert len(lines) == 3


def test_the_full_traceback_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FULL_TRACEBACKS_ENV, "1")
    exc = _raised_through_our_code()
    full = "\n".join(exc._render_traceback_())
    assert "Traceback (most recent call last)" in full and "in boom" in full
    assert full.strip() == "".join(traceback.format_exception(exc)).strip()


def test_every_error_of_ours_has_the_short_rendering() -> None:
    import coder_jupyter.errors as errors

    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, CoderError) and hasattr(obj, "_render_traceback_"), name
    assert sys.modules["coder_jupyter.errors"] is errors


# -- the callback page of a cancel ------------------------------------------------------------------


def test_a_cancel_page_is_neutral_and_closes_itself_an_error_page_stays() -> None:
    cancelled = render_page(Page(False, "access_denied", "Login cancelled", "You cancelled."), nonce="n")
    assert "class='neutral'" in cancelled and "window.close()" in cancelled
    failed = render_page(Page(False, "invalid_grant", "Login failed", "Coder refused."), nonce="n")
    assert "class='err'" in failed and "window.close()" not in failed
