"""No secret — tokens, client secret, PKCE verifier, authorization code, registration access
token — appears in any log record (DEBUG), warning, exception message, repr or printed output
while full flows run against the fake."""

from __future__ import annotations

import logging
import warnings
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oauthhelpers import REDIRECT, consent  # pytest puts this test directory on sys.path

from coder_jupyter._login import AuthManager
from coder_jupyter.errors import CoderError
from coder_jupyter.testing import FakeCoder

# Coder's G4 default has DCR off: these tests play an admin who turned it on.
pytestmark = pytest.mark.coder_fake(dcr=True)


def quiet_consent(fake: FakeCoder, url: str, *, allow: bool = True) -> str:
    """The test's browser; its own HTTP logs (which see the code in a Location) are not ours."""
    logging.disable(logging.CRITICAL)
    try:
        return consent(fake, url, allow=allow)
    finally:
        logging.disable(logging.NOTSET)


@pytest.mark.coder_fake(access_token_ttl=600, generation="g1")
def test_full_flows_leak_no_secret(
    coder_fake: FakeCoder, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = set()
    texts: list[str] = []

    def note(*values: object) -> None:
        texts.extend(repr(v) for v in values)
        texts.extend(str(v) for v in values)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auth = AuthManager(coder_fake.url)
        # login (G1: a confidential client, so there is a client secret to protect)
        started = auth.begin_login(redirect_uri=REDIRECT)
        pending = auth.pending_logins.take(started.state)
        assert pending is not None
        auth.pending_logins.put(pending)
        callback = quiet_consent(coder_fake, started.authorization_url)
        secrets |= {pending.code_verifier, parse_qs(urlsplit(callback).query)["code"][0]}
        note(started, pending, auth, auth.httpx_auth, auth.finish_login(callback))
        registration = auth.store.load_registration()
        tokens = auth.credentials.current()
        assert registration is not None and tokens is not None
        secrets |= {
            tokens.access_token,
            tokens.refresh_token or "",
            registration.client_secret or "",
            registration.registration_access_token or "",
        }
        note(registration, tokens, auth.status(), auth.status(check=True))
        # failures: replayed callback, cancel, a refresh
        for attempt in (
            lambda: auth.finish_login(callback),
            lambda: auth.finish_login(
                quiet_consent(coder_fake, auth.begin_login(redirect_uri=REDIRECT).authorization_url,
                              allow=False)
            ),
        ):
            with pytest.raises(CoderError) as info:
                attempt()
            note(info.value, info.value.args, getattr(info.value, "__dict__", {}))
        coder_fake.advance(601)
        with httpx.Client(auth=auth.httpx_auth) as client:
            assert client.get(f"{coder_fake.url}/api/v2/users/me").status_code == 200
        new = auth.credentials.current()
        assert new is not None
        secrets |= {new.access_token, new.refresh_token or ""}
        note(new, auth.logout(delete_registration=True))
        # a token login, shown and failed
        with pytest.raises(CoderError) as info:
            auth.login_with_token("bad0000000-0000000000000000000000")
        note(info.value)
        note(auth.login_with_token(coder_fake.session_token))
        secrets.add(coder_fake.session_token)

    secrets.discard("")
    out = capsys.readouterr()
    texts += [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    texts += [str(w.message) for w in caught] + [out.out, out.err]
    haystack = "\n".join(texts)
    assert len(secrets) >= 8
    for secret in secrets:
        assert secret not in haystack, f"a secret leaked (starts {secret[:4]}…)"
