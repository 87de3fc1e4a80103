"""Security review regressions: hostile server data in HTML reprs, pasted tokens that cannot be
sent, and a loopback listener that an idle connection must not stall."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import pytest

from coder_jupyter._config import CoderConfig
from coder_jupyter._login import AuthManager
from coder_jupyter._loopback import LoopbackListener
from coder_jupyter.client.models import BuildInfo
from coder_jupyter.errors import CoderError


@pytest.mark.parametrize("url", ["javascript:alert(document.domain)", " JavaScript:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "vbscript:x"])
def test_a_server_supplied_dashboard_url_that_is_not_http_is_shown_as_text_not_a_link(url: str) -> None:
    # When a (malicious) Coder answers /buildinfo with a script URL as its dashboard
    html = BuildInfo(version="v2", dashboard_url=url)._repr_html_()

    # Then the notebook output has no link to click
    assert "href" not in html
    assert "<script" not in html


def test_an_http_dashboard_url_is_still_a_link() -> None:
    html = BuildInfo(version="v2", dashboard_url="https://coder.example.com")._repr_html_()
    assert 'href="https://coder.example.com"' in html


@pytest.mark.parametrize("token", ["SECRETTOKEN\u00e9-tail", "SECRET TOKEN", "SECRET\nTOKEN",
                                   "SECRET\x00TOKEN"])
def test_a_pasted_token_that_cannot_be_a_header_is_refused_without_repeating_it(
    token: str, tmp_path: Path
) -> None:
    # The deployment is never reached: the token is refused before any request.
    auth = AuthManager("http://127.0.0.1:9", config=CoderConfig(data_dir=str(tmp_path)))

    # When
    with pytest.raises(CoderError) as caught:
        auth.login_with_token(token)

    # Then the error is typed, says what to do, and neither its message nor its args hold the token
    assert "SECRET" not in str(caught.value) and "SECRET" not in repr(caught.value.args)
    assert "paste" in str(caught.value).lower()


def test_an_idle_connection_does_not_stall_the_loopback_callback() -> None:
    with LoopbackListener(request_timeout=0.5) as listener:
        listener.expect("s")
        # Given a connection that never sends a request (a browser's speculative preconnect)
        idle = socket.create_connection(("127.0.0.1", listener.port))
        try:
            result: dict[str, int] = {}

            def browser() -> None:
                url = listener.redirect_uri + "?code=c&state=s"
                result["status"] = httpx.get(url, timeout=10).status_code

            thread = threading.Thread(target=browser, daemon=True)
            thread.start()

            # When the real callback arrives, it is still received
            callback = listener.wait(timeout=5)
            listener.respond(True, "ok")
            thread.join(10)
        finally:
            idle.close()

    # Then
    assert callback.endswith("/callback?code=c&state=s")
    assert result["status"] == 200
