"""Pytest fixtures for a fake Coder deployment (entry point ``coder_jupyter_fake``).

* ``coder_fake``: a fresh :class:`~coder_jupyter.testing.FakeCoder` per test. Options come from
  the ``coder_fake`` marker (marks on the module, class and test merge; the closest wins)::

      @pytest.mark.coder_fake(workspaces=3, generation="g1", access_token_ttl=60)
      def test_login(coder_fake):
          ...

* ``coder_fake_session``: one deployment shared by the whole session (rate limits off so a
  large suite cannot trip them). Do not change its switches in a test without restoring them.

Both default to generation G4 with dynamic client registration off; pass ``dcr=True`` (marker)
to start with it on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import FakeCoder, fake_coder


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "coder_fake(**options): keyword arguments for the coder_fake fixture (see FakeCoder)"
    )


@pytest.fixture
def coder_fake(request: pytest.FixtureRequest) -> Iterator[FakeCoder]:
    """A fresh fake Coder deployment for one test."""
    options: dict[str, object] = {}
    # Module/class marks first, the closest mark last: a test's own options win.
    for marker in reversed(list(request.node.iter_markers("coder_fake"))):
        options.update(marker.kwargs)
    with fake_coder(**options) as fake:
        yield fake


@pytest.fixture(scope="session")
def coder_fake_session() -> Iterator[FakeCoder]:
    """One fake Coder deployment shared by every test of the session."""
    with fake_coder(oauth2_rate_limit=None, api_rate_limit=None) as fake:
        yield fake
