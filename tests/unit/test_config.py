"""Configuration: URL normalization, headers, TLS, traitlets loading and the credential precedence."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from traitlets.config import Config

from coder_jupyter._auth import Credentials
from coder_jupyter._cli_session import coder_cli_config_dir, read_cli_session
from coder_jupyter._config import CoderConfig, normalize_url
from coder_jupyter._connection import (
    ConnectionSettings,
    make_async_client,
    make_client,
    parse_headers,
    run_header_command,
    ssl_context,
)
from coder_jupyter._credentials import (
    Credential,
    CredentialSources,
    find_credential,
    pending_logins_for,
    store_for,
)
from coder_jupyter._oauth.models import TokenSet
from coder_jupyter._store import Store
from coder_jupyter._transport import adrive
from coder_jupyter.errors import ConfigurationError, TransportError

URL = "https://coder.example.com"


# -- normalize_url -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://coder.example.com", URL),
        ("HTTPS://Coder.Example.COM/", URL),
        ("https://coder.example.com:443//", URL),
        ("https://coder.example.com/?code=SECRET#frag", URL),
        ("  https://coder.example.com  ", URL),
        ("http://coder.example.com:80", "http://coder.example.com"),
        ("https://coder.example.com:8443/", "https://coder.example.com:8443"),
        ("http://coder.example.com:443", "http://coder.example.com:443"),
        ("https://example.com/coder/", "https://example.com/coder"),
        ("coder.example.com", URL),  # like `coder login coder.example.com`
        ("localhost:3000", "http://localhost:3000"),
        ("127.0.0.1:3000/", "http://127.0.0.1:3000"),
        ("http://[::1]:3000/", "http://[::1]:3000"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected
    assert normalize_url(normalize_url(given)) == normalize_url(given)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://coder.example.com", "https:// or http://"),
        ("https://", "no valid host"),
        ("https://coder.example.com:99999", "invalid port"),
        ("https://coder.example.com:abc", "invalid port"),
        ("https://alice:SECRET@coder.example.com", "user name or password"),
    ],
)
def test_normalize_url_refuses_junk_with_a_helpful_message(given: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        normalize_url(given)
    assert "SECRET" not in str(info.value)


# -- headers -------------------------------------------------------------------------------------------


def test_headers_parse_like_the_coder_cli() -> None:
    assert parse_headers(["X-A=1", "", "X-B = two=2 ", "X-A=3", "X-Empty="], source="t") == {
        "X-A": "3",
        "X-B": "two=2",
        "X-Empty": "",
    }


@pytest.mark.parametrize("line", ["X-Token SECRET", "=SECRET", "Bad Name=SECRET", "Ünï=SECRET"])
def test_a_malformed_header_is_refused_without_its_value(line: str) -> None:
    with pytest.raises(ConfigurationError, match="Header 1 from CODER_HEADER") as info:
        parse_headers([line], source="CODER_HEADER")
    assert "SECRET" not in str(info.value)


def test_the_header_command_runs_in_a_shell_with_coder_url_set() -> None:
    headers = run_header_command('printf "X-Url=$CODER_URL\\n\\nX-Two=2\\n"', url=URL)
    assert headers == {"X-Url": URL, "X-Two": "2"}


@pytest.mark.parametrize(
    ("command", "timeout", "message"),
    [
        # A generous timeout where the command is not meant to time out: a shell can take more
        # than a few hundred milliseconds to start on a loaded 2-core machine.
        ("echo X-Secret=SECRET; exit 3", 30.0, "exited with status 3"),
        ("echo SECRET-without-equals", 30.0, "not of the form key=value"),
        ("sleep 5", 0.3, "did not finish within 0.3 s"),
    ],
)
def test_a_failing_header_command_is_a_configuration_error_without_its_output(
    command: str, timeout: float, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        run_header_command(command, url=URL, timeout=timeout)
    assert "SECRET" not in str(info.value)


def test_connection_settings_merge_static_and_command_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_HEADER", "X-A=1,X-B=2")
    monkeypatch.setenv("CODER_HEADER_COMMAND", "echo X-B=from-command")
    settings = CoderConfig().connection_settings(URL)
    assert dict(settings.headers) == {"X-A": "1", "X-B": "from-command"}
    assert "from-command" not in repr(settings)


# -- traits: environment and Jupyter config ---------------------------------------------------------


def test_traits_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_URL", "https://env.example.com/")
    monkeypatch.setenv("CODER_OAUTH_CLIENT_ID", "cid")
    monkeypatch.setenv("CODER_OAUTH_CLIENT_SECRET", "cs-SECRET")
    monkeypatch.setenv("CODER_JUPYTER_LOGIN_METHODS", "store, OAUTH")
    config = CoderConfig()
    assert config.resolved_url() == "https://env.example.com"
    assert config.oauth_client() == ("cid", "cs-SECRET")
    assert config.login_methods == ["store", "oauth"]
    assert config.allows("oauth") and not config.allows("cli")
    assert "cs-SECRET" not in repr(config)


def test_jupyter_config_overrides_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODER_URL", "https://env.example.com")
    c = Config()
    c.CoderConfig.url = "https://config.example.com"
    c.CoderConfig.login_methods = ["oauth"]
    c.CoderConfig.data_dir = str(tmp_path / "store")
    c.CoderConfig.deployments = {"prod": URL}
    config = CoderConfig(config=c)
    assert config.resolved_url() == "https://config.example.com"
    assert config.login_methods == ["oauth"]
    assert store_for(config, URL).root == tmp_path / "store"
    assert pending_logins_for(config).root == tmp_path / "store"
    assert config.deployments == {"prod": URL}


def test_an_unknown_login_method_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_JUPYTER_LOGIN_METHODS", "env,magic")
    with pytest.raises(ConfigurationError, match="'magic'"):
        _ = CoderConfig().login_methods


def test_the_client_secret_is_not_shown_in_the_help_or_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_OAUTH_CLIENT_SECRET", "cs-hidden-value")
    config = CoderConfig()
    assert config.oauth_client_secret == "cs-hidden-value"
    assert "cs-hidden-value" not in CoderConfig.class_get_help(config) + repr(config)


# -- which deployment -----------------------------------------------------------------------------


def write_cli_session(url: str | None, session: str | None) -> Path:
    directory = coder_cli_config_dir()
    directory.mkdir(parents=True, exist_ok=True)
    if url is not None:
        (directory / "url").write_text(url + "\n")
    if session is not None:
        (directory / "session").write_text(session + "\n")
    return directory


def test_the_deployment_is_explicit_then_coder_url_then_the_cli_url(monkeypatch: pytest.MonkeyPatch) -> None:
    config = CoderConfig()
    with pytest.raises(ConfigurationError, match="No Coder deployment configured: pass a URL, set CODER_URL"):
        config.deployment_url()
    assert config.resolved_url() is None
    write_cli_session("https://cli.example.com/", None)
    assert CoderConfig().deployment_url() == "https://cli.example.com"
    monkeypatch.setenv("CODER_URL", "https://env.example.com")
    assert CoderConfig().deployment_url() == "https://env.example.com"
    assert CoderConfig().deployment_url("https://Explicit.example.com/") == "https://explicit.example.com"


def test_the_cli_url_is_ignored_when_cli_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    write_cli_session("https://cli.example.com", None)
    monkeypatch.setenv("CODER_JUPYTER_LOGIN_METHODS", "env,store,oauth")
    assert CoderConfig().resolved_url() is None


def test_the_cli_config_dir_follows_coder_config_dir_then_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CODER_CONFIG_DIR", str(tmp_path / "explicit"))
    assert coder_cli_config_dir() == tmp_path / "explicit"
    monkeypatch.delenv("CODER_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert coder_cli_config_dir() == tmp_path / "xdg" / "coderv2"
    assert read_cli_session() == (None, None)


# -- which credential ------------------------------------------------------------------------------


@dataclass
class Sources:
    """Every credential source set up for URL, each with its own token."""

    store: Store
    monkeypatch: pytest.MonkeyPatch

    def methods(self, *methods: str) -> CoderConfig:
        self.monkeypatch.setenv("CODER_JUPYTER_LOGIN_METHODS", ",".join(methods))
        return CoderConfig()


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> Sources:
    monkeypatch.setenv("CODER_SESSION_TOKEN", "from-env")
    store = store_for(CoderConfig(), URL)
    store.save_tokens(TokenSet(access_token="from-store"))
    write_cli_session(URL, "from-cli")
    return Sources(store, monkeypatch)


def found(config: CoderConfig, *, explicit: str | None = None, url: str = URL) -> tuple[str, str] | None:
    credential = find_credential(config, url, explicit=explicit)
    return None if credential is None else (credential.method, credential.token)


def test_each_source_beats_the_next(sources: Sources) -> None:
    config = CoderConfig()
    assert found(config, explicit=" explicit ") == ("token", "explicit")
    assert found(config) == ("env", "from-env")
    sources.monkeypatch.delenv("CODER_SESSION_TOKEN")
    assert found(config) == ("store", "from-store")
    sources.store.delete_tokens()
    assert found(config) == ("cli", "from-cli")
    (coder_cli_config_dir() / "session").unlink()
    assert found(config) is None


def test_login_methods_reorder_and_disable_sources(sources: Sources) -> None:
    assert found(sources.methods("cli", "store", "env")) == ("cli", "from-cli")
    assert found(sources.methods("store", "oauth")) == ("store", "from-store")
    assert found(sources.methods("oauth")) is None
    # An explicit token is never disabled
    assert found(sources.methods("oauth"), explicit="explicit") == ("token", "explicit")


def test_the_env_token_is_used_only_for_coder_urls_deployment(sources: Sources) -> None:
    sources.store.delete_tokens()
    sources.monkeypatch.setenv("CODER_URL", "https://CODER.example.com/")
    assert found(CoderConfig()) == ("env", "from-env")
    assert found(CoderConfig(), url="https://other.example.com") is None
    sources.monkeypatch.delenv("CODER_URL")
    assert found(CoderConfig(), url="https://other.example.com") == ("env", "from-env")


def test_the_cli_session_is_used_only_for_its_own_deployment(sources: Sources) -> None:
    sources.monkeypatch.delenv("CODER_SESSION_TOKEN")
    sources.store.delete_tokens()
    write_cli_session("https://other.example.com", "from-cli")
    assert found(CoderConfig()) is None
    assert found(CoderConfig(), url="https://other.example.com") == ("cli", "from-cli")


def resolve_static_token(config: CoderConfig, *, url: str, store: Store,
                         explicit: str | None = None) -> tuple[str, str] | None:
    """The fixed token the refreshing credentials use now (None: the store's tokens or nothing)."""
    credentials = Credentials(url, store, httpx.Client,
                              sources=CredentialSources(config, url, explicit=explicit))
    tokens, source = credentials.resolve()
    return None if tokens is None or source == "store" else (tokens.access_token, str(source))


def test_resolve_static_token_leaves_the_store_to_the_refreshing_credentials(sources: Sources) -> None:
    config = CoderConfig()
    assert resolve_static_token(config, url=URL, store=sources.store) == ("from-env", "env")
    sources.monkeypatch.delenv("CODER_SESSION_TOKEN")
    # the store's tokens win over the CLI's
    assert resolve_static_token(config, url=URL, store=sources.store) is None
    sources.store.delete_tokens()
    assert resolve_static_token(config, url=URL, store=sources.store) == ("from-cli", "cli")
    assert resolve_static_token(config, url=URL, store=sources.store, explicit="x") == ("x", "token")


def test_a_credential_never_shows_its_token() -> None:
    credential = Credential("env", "SECRET-token", "CODER_SESSION_TOKEN")
    assert "SECRET" not in repr(credential) and "SECRET" not in str(credential)


# -- TLS and clients --------------------------------------------------------------------------------


@dataclass
class PKI:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
    client: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer else (name, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key, server_key, client_key = _key(), _key(), _key(), _key()
    ca = _cert("Test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    return PKI(
        ca=_write_cert(ca, d / "ca.pem"),
        server_cert=_write_cert(_cert("localhost", server_key, issuer, server=True), d / "server.pem"),
        server_key=_write_key(server_key, d / "server.key"),
        client_cert=_write_cert(_cert("alice", client_key, issuer, client=True), d / "client.pem"),
        client_key=_write_key(client_key, d / "client.key"),
        other_ca=_write_cert(_cert("Other CA", other_key, None, ca=True), d / "other.pem"),
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{self.headers.get('User-Agent')}|{self.headers.get('X-Extra')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_server(pki: PKI, request: pytest.FixtureRequest) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a certificate from the test CA; ``mtls``: client cert required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if getattr(request, "param", None) == "mtls":
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_ssl_context_trusts_the_configured_ca_bundle(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_TLS_CA_FILE", str(pki.ca))
    settings = CoderConfig().connection_settings(URL)
    assert settings.verify == str(pki.ca)
    context = ssl_context(settings)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(c["subject"] == ((("commonName", "Test CA"),),) for c in context.get_ca_certs())


def test_a_client_with_the_ca_bundle_reaches_the_server_and_sends_our_headers(
    pki: PKI, https_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODER_TLS_CA_FILE", str(pki.ca))
    monkeypatch.setenv("CODER_HEADER", "X-Extra=hello")
    with make_client(CoderConfig().connection_settings(https_server)) as client:
        response = client.get("/api/v2/buildinfo")
    user_agent, extra = response.text.split("|")
    assert user_agent.startswith("coder-jupyter/") and extra == "hello"
    assert str(response.request.url).startswith(https_server + "/api/v2/")


def test_a_client_without_the_ca_refuses_the_server(pki: PKI, https_server: str) -> None:
    settings = ConnectionSettings(url=https_server, verify=str(pki.other_ca))
    with (
        make_client(settings) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get("/")


@pytest.mark.parametrize("https_server", ["mtls"], indirect=True)
async def test_mutual_tls_presents_the_client_certificate(
    pki: PKI, https_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODER_TLS_CA_FILE", str(pki.ca))
    settings_without = CoderConfig().connection_settings(https_server)
    monkeypatch.setenv("CODER_TLS_CERT_FILE", str(pki.client_cert))
    monkeypatch.setenv("CODER_TLS_KEY_FILE", str(pki.client_key))
    settings = CoderConfig().connection_settings(https_server)
    async with make_async_client(settings) as client:
        assert (await client.get("/")).status_code == 200
    async with make_async_client(settings_without) as client:
        # httpx's own error, or (TLS 1.3, the alert arriving after the handshake) a bare SSLError
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)):
            await client.get("/")


@pytest.mark.parametrize("https_server", ["mtls"], indirect=True)
async def test_a_missing_client_certificate_is_a_plain_transport_error(
    pki: PKI, https_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODER_TLS_CA_FILE", str(pki.ca))
    settings = CoderConfig().connection_settings(https_server)

    def flow() -> Generator[httpx.Request, httpx.Response, None]:
        yield httpx.Request("GET", https_server + "/")

    async with make_async_client(settings) as client:
        # Whatever shape the TLS failure takes underneath, the user gets our typed error.
        with pytest.raises(TransportError, match="TLS settings"):
            await adrive(flow(), client)


def test_clients_do_not_follow_redirects_and_have_timeouts() -> None:
    settings = ConnectionSettings(url=URL, timeout=42.0)
    with make_client(settings) as client:
        assert client.follow_redirects is False
        assert client.timeout.read == 42.0 and client.timeout.connect == 10.0
        assert client.build_request("GET", "/api/v2/users/me").url == URL + "/api/v2/users/me"


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("CODER_TLS_CA_FILE", "CA bundle"),
        ("CODER_TLS_CERT_FILE", "client certificate"),
        ("CODER_TLS_KEY_FILE", "client key"),
    ],
)
def test_a_missing_tls_file_is_named(
    variable: str, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(variable, str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match=message):
        CoderConfig().connection_settings(URL)


def test_a_file_that_is_not_a_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="could not be loaded"):
        ssl_context(ConnectionSettings(url=URL, verify=str(junk)))


def test_the_sources_are_walked_on_every_request_so_later_changes_are_seen(sources: Sources) -> None:
    # Given credentials made while every source has a token
    credentials = Credentials(URL, sources.store, httpx.Client, sources=CredentialSources(CoderConfig(), URL))

    def now() -> tuple[str | None, str | None]:
        tokens, source = credentials.resolve()
        return (tokens.access_token if tokens else None), source

    assert now() == ("from-env", "env")
    # When each source goes away (a logout, `coder logout`, an unset variable), the next one is used
    sources.monkeypatch.delenv("CODER_SESSION_TOKEN")
    assert now() == ("from-store", "store")
    sources.store.delete_tokens()
    assert now() == ("from-cli", "cli")
    (coder_cli_config_dir() / "session").unlink()
    assert now() == (None, None)
    # And a credential that appears later is used at once
    write_cli_session(URL, "later-cli")
    assert now() == ("later-cli", "cli")
    sources.monkeypatch.setenv("CODER_SESSION_TOKEN", "later-env")
    assert now() == ("later-env", "env")
