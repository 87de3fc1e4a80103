"""`!coder …` in a real kernel uses the notebook's login (issue #14): the stand-in Coder CLI
(``tests/bin/coder``, honest to CODER_BEHAVIOR.md §13) against the fake over HTTP.

Each test has its own home (``cli_home``: ``HOME``/``XDG_CONFIG_HOME`` in a temp directory,
``CODER_CONFIG_DIR`` unset, the stand-in first on ``PATH``), which the kernel inherits.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from clihelpers import CliHome
from oauthhelpers import login_by_consent
from test_kernel import Kernel, _start_kernel, kernel_env

from coder_jupyter.testing import FakeCoder

pytestmark = pytest.mark.timeout(180)

TTL = 3600.0


def me_status(fake: FakeCoder, token: str) -> int:
    return httpx.get(f"{fake.url}/api/v2/users/me", headers={"Coder-Session-Token": token}).status_code


def private_session(fake: FakeCoder) -> str:
    from coder_jupyter._cli_share import private_dir
    from coder_jupyter._config import CoderConfig
    from coder_jupyter._credentials import store_for

    return (private_dir(store_for(CoderConfig(), fake.url)) / "session").read_text()


@pytest.fixture
def kernel(coder_fake: FakeCoder, cli_home: CliHome) -> Iterator[Kernel]:
    yield from _start_kernel(kernel_env(CODER_URL=coder_fake.url))


@pytest.mark.coder_fake(dcr=True, access_token_ttl=TTL, oauth2_rate_limit=None, api_rate_limit=None)
def test_coder_in_cells_uses_the_notebook_login_across_a_refresh_and_stops_at_logout(
    kernel: Kernel, coder_fake: FakeCoder
) -> None:
    fake = coder_fake
    kernel.ok("%load_ext coder_jupyter")
    before = kernel.ok("!coder whoami\nprint('exit', _exit_code)")
    assert "exit 1" in before.stdout and fake.username not in before.stdout  # CODER_URL, no token: 401

    # When the user logs in (here: the Jupyter server's process finishing an OAuth login)
    login_by_consent(fake)

    # Then the next cell's `!coder` names the user, through the kernel's CODER_CONFIG_DIR
    first = kernel.ok("!coder whoami")
    assert f"authenticated as {fake.username}" in first.stdout
    old = private_session(fake)
    status = kernel.ok("%coder status").stdout
    assert "CLI cells:  shared (CODER_CONFIG_DIR=" in status and old not in status

    # When the access token dies on Coder and the next call refreshes it
    fake.advance(TTL + 60)
    assert me_status(fake, old) == 401
    assert kernel.ok("print(coder.me().username)").stdout.strip() == fake.username

    # Then the CLI's copy was rewritten: `!coder` still works, with the new token
    new = private_session(fake)
    assert new != old and me_status(fake, old) == 401
    after = kernel.ok("!coder whoami")
    assert f"authenticated as {fake.username}" in after.stdout
    assert not new.endswith("\n")

    # When logged out
    kernel.ok("%coder logout")

    # Then `!coder` no longer has our token, and what we set is gone
    gone = kernel.ok("!coder whoami\nimport os; print('dir', os.environ.get('CODER_CONFIG_DIR'))")
    assert fake.username not in gone.stdout and "dir None" in gone.stdout
    assert me_status(fake, new) == 401  # revoked, so a copy anywhere would be dead too


@pytest.mark.coder_fake(dcr=True, oauth2_rate_limit=None, api_rate_limit=None)
def test_subprocess_run_uses_the_login_made_in_another_kernel(kernel: Kernel, coder_fake: FakeCoder) -> None:
    kernel.ok("%load_ext coder_jupyter")

    # When another kernel saves an API token (simulated by another process of the user)
    from coder_jupyter._login import AuthManager

    AuthManager(coder_fake.url).login_with_token(coder_fake.session_token)

    # Then
    done = kernel.ok('import subprocess\nprint(subprocess.run(["coder", "whoami"], capture_output=True, '
                     "text=True).stdout)")
    assert f"authenticated as {coder_fake.username}" in done.stdout


@pytest.mark.coder_fake(dcr=True, oauth2_rate_limit=None, api_rate_limit=None)
def test_a_users_own_coder_config_dir_is_never_overwritten(coder_fake: FakeCoder, cli_home: CliHome) -> None:
    mine = str(cli_home.home / "my-coder-config")
    for kernel in _start_kernel(kernel_env(CODER_URL=coder_fake.url, CODER_CONFIG_DIR=mine)):
        kernel.ok("%load_ext coder_jupyter")
        login_by_consent(coder_fake)

        # When
        status = kernel.ok("%coder status").stdout

        # Then
        assert kernel.ok("import os; print(os.environ['CODER_CONFIG_DIR'])").stdout.strip() == mine
        assert f"CLI cells:  not shared: CODER_CONFIG_DIR is set to {mine}" in status


@pytest.mark.coder_fake(dcr=True, oauth2_rate_limit=None, api_rate_limit=None)
def test_an_environment_token_is_never_copied(coder_fake: FakeCoder, cli_home: CliHome) -> None:
    env = kernel_env(CODER_URL=coder_fake.url, CODER_SESSION_TOKEN=coder_fake.session_token)
    for kernel in _start_kernel(env):
        kernel.ok("%load_ext coder_jupyter")
        kernel.ok("coder.me()")

        status = kernel.ok("%coder status").stdout

        assert "not shared: CODER_SESSION_TOKEN is set" in status
        from coder_jupyter._cli_share import private_dir
        from coder_jupyter._config import CoderConfig
        from coder_jupyter._credentials import store_for

        assert not private_dir(store_for(CoderConfig(), coder_fake.url)).exists()
        assert not cli_home.default_dir.exists()


@pytest.mark.coder_fake(dcr=True, oauth2_rate_limit=None, api_rate_limit=None)
def test_a_session_made_by_coder_login_is_picked_up_by_load_ext(kernel: Kernel, coder_fake: FakeCoder,
                                                                 cli_home: CliHome) -> None:
    # Given the user ran `coder login` in a terminal (the stand-in writes the default directory)
    cli_home.user_login(coder_fake.url, coder_fake.session_token)

    # When
    loaded = kernel.ok("%load_ext coder_jupyter")

    # Then the notebook uses it, and copies nothing
    assert f"Logged in to {coder_fake.url} as {coder_fake.username}" in loaded.text
    assert "Coder CLI" in loaded.text
    assert "not shared (no notebook login to share)" in kernel.ok("%coder status").stdout


@pytest.mark.coder_fake(dcr=True, access_token_ttl=200, oauth2_rate_limit=None, api_rate_limit=None)
def test_a_token_about_to_expire_is_refreshed_before_the_next_cell(
    kernel: Kernel, coder_fake: FakeCoder
) -> None:
    kernel.ok("%load_ext coder_jupyter")
    login_by_consent(coder_fake)
    kernel.ok("pass")  # the first cell after the login may already refresh (200 s < REFRESH_AHEAD)
    old = private_session(coder_fake)

    # When a cell runs that never calls Coder
    kernel.ok("x = 1")

    # Then the hook refreshed the soon-expiring token, and the CLI's copy follows
    assert private_session(coder_fake) != old
    assert f"authenticated as {coder_fake.username}" in kernel.ok("!coder whoami").stdout


@pytest.mark.coder_fake(dcr=True, access_token_ttl=200, oauth2_rate_limit=None, api_rate_limit=None)
def test_a_failing_refresh_in_the_hook_never_breaks_the_users_cell(
    kernel: Kernel, coder_fake: FakeCoder
) -> None:
    kernel.ok("%load_ext coder_jupyter")
    login_by_consent(coder_fake)
    coder_fake.add_fault("error", r"^/oauth2/tokens$", "POST", status=400)

    # When
    result = kernel.run("print(6 * 7)")

    # Then the cell ran, with no traceback from the hook (IPython would print one for a raising hook)
    assert result.error is None and result.stdout.strip() == "42"
    assert "Error in callback" not in result.text and "Traceback" not in result.text
    assert private_session(coder_fake) not in result.text


@pytest.mark.coder_fake(dcr=True, oauth2_rate_limit=None, api_rate_limit=None)
def test_coder_cli_terminals_magic_asks_for_force_over_a_coder_login_and_off_undoes_it(
    kernel: Kernel, coder_fake: FakeCoder, cli_home: CliHome
) -> None:
    fake = coder_fake
    cli_home.user_login(fake.url, fake.create_token(fake.username, name="terminal"))
    own = (cli_home.default_dir / "session").read_text()
    kernel.ok("%load_ext coder_jupyter")
    login_by_consent(fake)

    # When
    refused = kernel.ok("%coder cli terminals")

    # Then
    assert "already has a session" in refused.stderr and "--force" in refused.stderr
    assert (cli_home.default_dir / "session").read_text() == own

    # When forced
    shared = kernel.ok("%coder cli terminals --force")

    # Then the terminals' directory (not the kernel's private one) holds the notebook login
    assert f"the Coder CLI's config in {cli_home.default_dir}" in shared.stdout
    assert (cli_home.default_dir / "session").read_text() == private_session(fake)
    status = kernel.ok("%coder status").stdout
    assert f"CLI terms:  the Coder CLI's config in {cli_home.default_dir}" in status
    assert private_session(fake) not in shared.text

    # When turned off
    kernel.ok("%coder cli off")

    # Then
    assert not (cli_home.default_dir / "session").exists()
    assert "CLI terms:  off" in kernel.ok("%coder cli").stdout
