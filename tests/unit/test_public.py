"""The bottom-layer decisions about what may be shown: one table of login methods shared with
the TypeScript view, cleaned text, URLs without secrets, the no-widget instructions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from coder_jupyter._config import CoderConfig
from coder_jupyter._engine import AuthStatus, usable_redirect_uri
from coder_jupyter._public import (
    LOGIN_METHODS,
    METHOD_WORDS,
    LoginMethod,
    fallback_html,
    fallback_text,
    printable,
    safe_url,
)
from coder_jupyter.kernel._display import status_line

WIDGET_TS = Path(__file__).parents[2] / "labextension" / "src" / "widget.ts"


def _ts_methods() -> dict[str, str]:
    block = re.search(r"const METHODS: Record<string, string> = \{(.*?)\};", WIDGET_TS.read_text(), re.S)
    assert block is not None, "METHODS table not found in widget.ts"
    return dict(re.findall(r"(\w+): '([^']*)'", block[1]))


def test_the_typescript_view_names_the_login_methods_like_python() -> None:
    assert _ts_methods() == METHOD_WORDS
    assert set(get_args(LoginMethod)) == set(METHOD_WORDS)


def test_every_configurable_source_but_the_store_is_a_method_shown_to_people() -> None:
    # "store" is where a login is kept, not how it was made (the store holds oauth or token)
    assert set(LOGIN_METHODS) - {"store"} <= set(METHOD_WORDS)
    assert CoderConfig().login_methods == list(LOGIN_METHODS)


def test_status_lines_use_the_shared_words() -> None:
    status = AuthStatus("https://coder.example.com", "logged_in", method="cli", username="alice")
    assert status_line(status).endswith("(Coder CLI session).")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@coder.example.com:8443/x?code=SECRET#frag", "https://coder.example.com:8443/x"),
        ("http://[::1]:3000/callback?state=S", "http://[::1]:3000/callback"),
        ("https://coder.example.com", "https://coder.example.com"),
    ],
)
def test_safe_url_drops_user_info_query_and_fragment(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_printable_is_one_bounded_line() -> None:
    assert printable("a\x1b[31mb\nc", 100) == "a [31mb c"
    assert printable("x" * 50, 10) == "x" * 9 + "…"


def test_the_no_widget_instructions_are_one_text_in_two_forms() -> None:
    url = "https://coder.example.com/?code=SECRET"
    text, html = fallback_text(url), fallback_html(url)
    for needle in ("%coder login --code", "%coder login --token", "login_with_token(getpass())",
                   "CODER_SESSION_TOKEN"):
        assert needle in text and needle in html
    assert "SECRET" not in text + html


@pytest.mark.parametrize(
    ("uri", "usable"),
    [
        ("https://hub.example.com/user/alice/coder/oauth/callback", True),
        ("http://127.0.0.1:8888/coder/oauth/callback", True),
        ("javascript:alert(1)", False),
        ("urn:ietf:wg:oauth:2.0:oob", False),
        ("https://evil@hub.example.com/coder/oauth/callback", False),
        ("https://hub.example.com/coder/oauth/callback#frag", False),
        ("https:///coder/oauth/callback", False),
        ("https://hub.example.com/" + "a" * 2048, False),
        (None, False),
    ],
)
def test_the_one_redirect_uri_check_a_page_must_pass(uri: object, usable: bool) -> None:
    assert usable_redirect_uri(uri) is usable
