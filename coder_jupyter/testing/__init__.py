"""A fake Coder deployment for tests, demos and notebooks.

:class:`FakeCoder` is a real HTTP server on 127.0.0.1 that reproduces Coder's observable
behaviour: the OAuth 2.1 provider (discovery, dynamic client registration, login and consent
pages, PKCE, token rotation, revocation), a REST API subset (users, templates, workspaces,
builds, build logs over WebSocket) and Coder's error bodies and headers. It runs on its own
event loop in a background thread, so synchronous code can talk to it::

    from coder_jupyter.testing import fake_coder

    with fake_coder(workspaces=3) as fake:
        print(fake.url, fake.username, fake.password, fake.session_token)

Knobs: provider generation (``generation="g4"`` by default, today's Coder; ``"g1"|"g2"|"g3"``
for older providers), provider and DCR switches,
token lifetimes, a controllable clock (:meth:`FakeCoder.advance`), injected faults
(:meth:`FakeCoder.add_fault`), rate limits and a request log (:attr:`FakeCoder.requests`).
The same knobs are reachable over HTTP under ``/__fake__/`` and from the command line:
``python -m coder_jupyter.testing --help``. Pytest users get the ``coder_fake`` and
``coder_fake_session`` fixtures from :mod:`coder_jupyter.testing.pytest_plugin`.

By default the fake is today's Coder (generation G4): tokens carry the negotiated scope and the
REST API enforces it (:mod:`._permissions` lists what each route needs), and dynamic client
registration is **off** until an admin turns it on. Two ways to get an OAuth client, as a real
admin would::

    # 1. enable DCR (owner session): what `coder oauth2-provider dcr enable` does
    httpx.put(f"{fake.url}/api/v2/oauth2-provider/settings",
              json={"dynamic_client_registration_enabled": True},
              headers={"Coder-Session-Token": fake.session_token})
    # 2. or register an app, optionally with a scope allowlist, and hand out its id and secret
    app = fake.create_oauth2_app("Notebook", "http://127.0.0.1:8888/coder/oauth/callback",
                                 scope="coder:workspaces.operate coder:workspaces.access user:read")

(``fake_coder(dcr=True)`` and ``python -m coder_jupyter.testing --dcr`` start with DCR on.)
:meth:`FakeCoder.consent` plays the user's browser on the consent page.

This package is independent of the rest of ``coder_jupyter`` on purpose.
"""

from ._faults import Fault, FaultKind, RequestRecord
from ._scopes import SCOPE_CATALOG
from ._server import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    FakeCoder,
    FakeUser,
    OAuthClient,
    SeededUser,
    fake_coder,
)
from ._state import Generation

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "SCOPE_CATALOG",
    "FakeCoder",
    "FakeUser",
    "Fault",
    "FaultKind",
    "Generation",
    "OAuthClient",
    "RequestRecord",
    "SeededUser",
    "fake_coder",
]
