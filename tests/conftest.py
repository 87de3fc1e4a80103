"""Suite-wide hygiene: no test reads or writes the developer's real credentials or Coder config."""

from __future__ import annotations

from pathlib import Path

import pytest

_ENV_TO_CLEAR = (
    "CODER_URL",
    "CODER_SESSION_TOKEN",
    "CODER_AGENT_TOKEN",
    "CODER_OAUTH_CLIENT_ID",
    "CODER_OAUTH_CLIENT_SECRET",
    "CODER_HEADER",
    "CODER_HEADER_COMMAND",
    "CODER_TLS_CA_FILE",
    "CODER_TLS_CERT_FILE",
    "CODER_TLS_KEY_FILE",
    "CODER_JUPYTER_LOGIN_METHODS",
)


@pytest.fixture(autouse=True)
def _isolated_coder_environment(tmp_path_factory: pytest.TempPathFactory,
                                monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the store and the Coder CLI config at fresh empty directories for every test."""
    home = tmp_path_factory.mktemp("coder-env")
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CODER_JUPYTER_DIR", str(home / "store"))
    monkeypatch.setenv("CODER_CONFIG_DIR", str(home / "coderv2"))
    return home
