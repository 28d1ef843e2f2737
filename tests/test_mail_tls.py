"""nianbao mail over TLS: implicit TLS (--ssl) and STARTTLS to aiosmtpd on 127.0.0.1.

The certificates come from a throwaway CA made here; the client trusts it only through the
standard SSL_CERT_FILE variable, which ssl.create_default_context() honours, so certificate
checking stays on exactly as it is for a real mail server.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from mail_season import roster_and_outbox
from nianbao.cli_mail import PASSWORD_ENV, mail
from nianbao.mail import LOG_NAME, SendLog
from nianbao.reader import read_unit
from nianbao.template import UnitInfo

pytest.importorskip("cryptography", reason="certificates for the TLS server need `cryptography`")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

YEAR = 2025
HOST = "127.0.0.1"
USER, PASSWORD = "gongkai@example.cn", "tls-s3cret-code"
UNITS = (
    UnitInfo("群科镇", "630000001", email="qunke@example.cn"),
    UnitInfo("化隆回族自治县教育局", "630000002", email="jiaoyu@example.cn; ban@example.cn"),
    UnitInfo("甘都镇", "630000003", email="gandu@example.cn"),
)

app = typer.Typer()
app.command()(mail)


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Pki:
    """A CA file to trust and server certificate/key files of various kinds."""

    ca: Path  # the CA the client trusts (SSL_CERT_FILE)
    good: tuple[Path, Path]  # issued by that CA for 127.0.0.1
    foreign: tuple[Path, Path]  # issued by another CA nobody trusts
    wrong_host: tuple[Path, Path]  # issued by the trusted CA, but for another host name


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A CA certificate (issuer None: self-signed) or a server certificate for `names`."""
    now = dt.datetime.now(dt.timezone.utc)
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(subject))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    is_ca = issuer is None
    usage = x509.KeyUsage(
        digital_signature=not is_ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True)
    builder = builder.add_extension(usage, critical=True)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pair(folder: Path, stem: str, cert: x509.Certificate, key) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    cas = {}
    for label in ("县政务网测试CA", "Other CA"):
        key = ec.generate_private_key(ec.SECP256R1())
        cas[label] = (_certificate(label, key, None), key)
    ip = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
    made = {}
    for stem, ca, names in (
        ("good", "县政务网测试CA", ip),
        ("foreign", "Other CA", ip),
        ("wrong_host", "县政务网测试CA", [x509.DNSName("smtp.example.cn")]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        made[stem] = _write_pair(folder, stem, _certificate(stem, key, cas[ca], names), key)
    ca_path, _ = _write_pair(folder, "ca", *cas["县政务网测试CA"])
    return Pki(ca_path, made["good"], made["foreign"], made["wrong_host"])


def server_context(pair: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*pair)
    return context


# ---------------------------------------------------------------- servers


class Inbox:
    """Keeps every message with whether the connection it came on was encrypted."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.received.append((list(envelope.rcpt_tos), envelope.content, encrypted))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [BytesParser(policy=policy.default).parsebytes(raw) for _, raw, _ in self.received]


class Accept:
    """An authenticator that records each login and whether it came over TLS."""

    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.logins.append((auth_data.login, auth_data.password, encrypted))
        return AuthResult(success=auth_data.password == PASSWORD.encode(), handled=False)


@dataclass
class Server:
    inbox: Inbox
    auth: Accept
    port: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start(mode: str, pair: tuple[Path, Path] | None = None) -> tuple[Controller, Server]:
    """An aiosmtpd server on 127.0.0.1 in mode "ssl", "starttls" or "plain"."""
    inbox, auth = Inbox(), Accept()
    kwargs: dict[str, object] = {"authenticator": auth}
    if mode == "ssl":
        # aiosmtpd cannot tell implicit TLS from plain text, so it is told not to insist
        kwargs |= {"ssl_context": server_context(pair), "auth_require_tls": False}
    elif mode == "starttls":
        kwargs |= {"tls_context": server_context(pair), "require_starttls": True}
    port = free_port()
    controller = Controller(inbox, hostname=HOST, port=port, **kwargs)
    controller.start()
    return controller, Server(inbox, auth, port)


@pytest.fixture
def trust(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """The client trusts the test CA (and, for a reproducible test, only it)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(pki.ca.parent / "no-such-dir"))
    return pki


@pytest.fixture(params=["ssl", "starttls"])
def tls_server(request: pytest.FixtureRequest, trust: Pki) -> Iterator[tuple[str, Server]]:
    controller, server = start(request.param, trust.good)
    try:
        yield request.param, server
    finally:
        controller.stop()


@pytest.fixture
def season(tmp_path: Path) -> dict[str, Path]:
    """A roster with addresses and the outbox of templates `nianbao template` makes from it."""
    return roster_and_outbox(tmp_path, UNITS, YEAR)


def send(season: dict[str, Path], port: int, mode: str, *extra: str, password: str = PASSWORD):
    args = [
        "--roster", season["roster"], "--outbox", season["outbox"], "--year", YEAR,
        "--send", "--smtp", f"{HOST}:{port}", f"--{mode}", "--from", USER,
        "--smtp-user", USER, "--interval", "0", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(app, [str(a) for a in args], env={PASSWORD_ENV: password})


def assert_clean_failure(result, *said: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not a crash
    assert "Traceback" not in result.output and PASSWORD not in result.output
    for text in said:
        assert text in result.output, result.output


# ---------------------------------------------------------------- delivery


def test_send_over_tls_delivers_with_login(
    season: dict[str, Path], tls_server: tuple[str, Server]
) -> None:
    mode, server = tls_server
    result = send(season, server.port, mode)
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output

    assert [(login, pw) for login, pw, _ in server.auth.logins] == [
        (USER.encode(), PASSWORD.encode())
    ]
    assert all(encrypted for *_, encrypted in server.auth.logins)  # password never in clear
    assert all(encrypted for *_, encrypted in server.inbox.received)
    assert len(server.inbox.received) == len(UNITS)
    for (rcpts, _, _), msg in zip(server.inbox.received, server.inbox.messages()):
        unit = next(u for u in UNITS if msg["Subject"].endswith(f"（{u.name}）"))
        assert msg["Subject"] == f"关于报送{YEAR}年度政府信息公开工作年度报告的通知（{unit.name}）"
        assert rcpts == [a.strip() for a in unit.email.split(";")]
        [part] = msg.iter_attachments()
        assert part.get_filename() == f"{unit.name}.xlsx"
        saved = season["tmp"] / "got" / part.get_filename()
        saved.parent.mkdir(exist_ok=True)
        saved.write_bytes(part.get_content())
        assert read_unit(saved).identity.unit == unit.name
    assert sorted(m["Subject"] for m in server.inbox.messages()) == sorted(
        f"关于报送{YEAR}年度政府信息公开工作年度报告的通知（{u.name}）" for u in UNITS
    )
    logged = SendLog.load(season["outbox"]).rows
    assert {r["Message-ID"] for r in logged} == {m["Message-ID"] for m in server.inbox.messages()}
    assert PASSWORD not in (season["outbox"] / LOG_NAME).read_text(encoding="utf-8-sig")

    again = send(season, server.port, mode)  # the log holds: nothing goes twice
    assert again.exit_code == 0, again.output
    assert len(server.inbox.received) == len(UNITS)


def test_wrong_password_over_tls(season: dict[str, Path], tls_server: tuple[str, Server]) -> None:
    mode, server = tls_server
    result = send(season, server.port, mode, password="wrong")
    assert_clean_failure(result, "拒绝登录", "授权码")
    assert server.auth.logins and all(encrypted for *_, encrypted in server.auth.logins)
    assert not server.inbox.received
    assert SendLog.load(season["outbox"]).rows == []


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
@pytest.mark.parametrize(
    ("cert", "said"),
    [("foreign", "签发机构不受信任"), ("wrong_host", "与服务器地址不符")],
)
def test_untrusted_certificate_sends_nothing(
    season: dict[str, Path], trust: Pki, mode: str, cert: str, said: str
) -> None:
    controller, server = start(mode, getattr(trust, cert))
    try:
        result = send(season, server.port, mode)
    finally:
        controller.stop()
    assert_clean_failure(result, "证书", said, "SSL_CERT_FILE", f"{HOST}:{server.port}")
    assert not server.auth.logins and not server.inbox.received  # no password, no mail
    assert SendLog.load(season["outbox"]).rows == []


def test_starttls_against_server_without_it(season: dict[str, Path], trust: Pki) -> None:
    controller, server = start("plain")
    try:
        result = send(season, server.port, "starttls")
    finally:
        controller.stop()
    assert_clean_failure(result, "不支持 STARTTLS", "--ssl")
    assert not server.auth.logins and not server.inbox.received


def test_ssl_against_plain_server(season: dict[str, Path], trust: Pki) -> None:
    controller, server = start("plain")
    try:
        result = send(season, server.port, "ssl")
    finally:
        controller.stop()
    assert_clean_failure(result, "TLS 加密握手失败", "--starttls")
    assert not server.inbox.received
