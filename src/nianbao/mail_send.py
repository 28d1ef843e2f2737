"""Send prepared messages over SMTP, remembering in a send log what has already gone."""

from __future__ import annotations

import csv
import io
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from nianbao.atomic import OutputError, write_bytes_atomic

LOG_NAME = "发送记录.csv"
LOG_COLUMNS = ("单位名称", "邮箱", "类型", "年度", "内容摘要", "发送时间", "Message-ID")
KEY_COLUMNS = LOG_COLUMNS[:5]


class MailError(Exception):
    """A mail run that cannot start (bad option, unreadable input); the message is Chinese."""


@dataclass(frozen=True)
class Outgoing:
    """One message for one unit, and the key under which the send log remembers it."""

    unit: str
    address: str
    kind: str  # 通知, 催报 or 退回修改
    year: int
    digest: str  # distinguishes reminders with different content; empty for notices
    message: EmailMessage

    @property
    def key(self) -> tuple[str, ...]:
        return (self.unit, self.address, self.kind, str(self.year), self.digest)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    ssl: bool = False
    starttls: bool = False
    user: str = ""
    timeout: float = 30.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class SendReport:
    """What a send run did: sent, skipped as already sent, refused, and why it stopped."""

    sent: list[Outgoing] = field(default_factory=list)
    skipped: list[Outgoing] = field(default_factory=list)
    failed: list[tuple[Outgoing, str]] = field(default_factory=list)
    unsent: list[Outgoing] = field(default_factory=list)  # not tried because the run stopped
    aborted: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.aborted


def parse_smtp(
    text: str, *, implicit_tls: bool = False, starttls: bool = False, user: str = ""
) -> SmtpServer:
    """HOST:PORT (port defaulting by TLS mode) → SmtpServer; MailError when malformed."""
    if implicit_tls and starttls:
        raise MailError("--ssl 与 --starttls 只能选一个：465 端口用 --ssl，587 端口用 --starttls。")
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = text.strip(), ""
    default = 465 if implicit_tls else 587 if starttls else 25
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise MailError(f"--smtp 的格式应为 服务器:端口，例如 smtp.163.com:465（收到「{text}」）。")
    port_number = int(port) if port else default
    return SmtpServer(host.strip("[]"), port_number, implicit_tls, starttls, user)


class SendLog:
    """The CSV in the outbox listing every message sent (opens in Excel: UTF-8 with BOM)."""

    def __init__(self, path: Path, rows: list[dict[str, str]]):
        self.path = path
        self.rows = rows

    @classmethod
    def load(cls, outbox: Path) -> SendLog:
        path = Path(outbox) / LOG_NAME
        if not path.exists():
            return cls(path, [])
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise MailError(f"发送记录 {path} 无法读取，请检查后重试。") from exc
        return cls(path, [dict(r) for r in csv.DictReader(io.StringIO(text))])

    def keys(self) -> set[tuple[str, ...]]:
        return {tuple(r.get(c, "") or "" for c in KEY_COLUMNS) for r in self.rows}

    def add(self, out: Outgoing, when: str) -> None:
        values = (*out.key, when, str(out.message.get("Message-ID", "")))
        self.rows.append(dict(zip(LOG_COLUMNS, values)))

    def save(self) -> None:
        """Rewrite atomically; MailError when impossible (on Windows: open in Excel)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, LOG_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(self.rows)
        try:
            write_bytes_atomic(self.path, buf.getvalue().encode("utf-8-sig"))
        except OutputError as exc:
            raise MailError(
                f"发送记录 {self.path} 无法写入（可能正在 Excel 中打开），请关闭后重试。"
            ) from exc


def send_all(
    messages: list[Outgoing],
    outbox: Path,
    server: SmtpServer,
    password: str = "",
    *,
    force: bool = False,
    interval: float = 0.0,
    on_sent: Callable[[Outgoing], None] | None = None,
) -> SendReport:
    """Send what the log does not list yet (all with `force`), logging each one as it goes."""
    log = SendLog.load(outbox)
    log.save()  # fail now, not after the first message has gone unrecorded
    done = set() if force else log.keys()
    report = SendReport(skipped=[m for m in messages if m.key in done])
    pending = [m for m in messages if m.key not in done]
    if not pending:
        return report
    try:
        smtp = connect(server, password)
    except MailError as exc:
        report.aborted, report.unsent = str(exc), pending
        return report
    try:
        _send_each(smtp, pending, log, report, interval, on_sent)
    finally:
        _close(smtp)
    return report


def _send_each(
    smtp: smtplib.SMTP,
    pending: list[Outgoing],
    log: SendLog,
    report: SendReport,
    interval: float,
    on_sent: Callable[[Outgoing], None] | None,
) -> None:
    for i, out in enumerate(pending):
        if i and interval > 0:
            time.sleep(interval)  # mail servers throttle or block fast senders
        try:
            smtp.send_message(out.message)
        except smtplib.SMTPRecipientsRefused as exc:
            report.failed.append((out, _refused(out.address, exc)))
            continue
        except smtplib.SMTPDataError as exc:
            report.failed.append(
                (out, f"邮件被服务器拒收：{_reply(exc.smtp_code, exc.smtp_error)}")
            )
            continue
        except smtplib.SMTPSenderRefused as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            report.aborted = f"发件人地址 {exc.sender} 被邮件服务器拒绝：{reply}"
        except (smtplib.SMTPException, OSError) as exc:
            report.aborted = f"与邮件服务器的连接中断：{_os_reason(exc)}。未发送的邮件可稍后重试。"
        if report.aborted:
            report.unsent = pending[i:]
            return
        log.add(out, datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
        log.save()
        report.sent.append(out)
        if on_sent is not None:
            on_sent(out)


def connect(server: SmtpServer, password: str = "") -> smtplib.SMTP:
    """An open, logged-in SMTP session; MailError with a Chinese reason otherwise."""
    context = ssl.create_default_context()
    try:
        if server.ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(_connect_problem(server, exc)) from None
    try:
        if server.starttls:
            smtp.starttls(context=context)
    except (smtplib.SMTPException, OSError) as exc:
        _close(smtp)
        raise MailError(_starttls_problem(server, exc)) from None
    try:
        if server.user:
            smtp.login(server.user, password)
    except (smtplib.SMTPException, OSError) as exc:
        _close(smtp)
        raise MailError(_session_problem(server, exc)) from None
    return smtp


def _connect_problem(server: SmtpServer, exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _certificate_problem(server, exc)
    hint = "请检查 --smtp 的服务器地址和端口、网络连接，以及是否应使用 --ssl 或 --starttls。"
    return f"无法连接邮件服务器 {server.where}：{_os_reason(exc)}。{hint}"


def _starttls_problem(server: SmtpServer, exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (
            f"邮件服务器 {server.where} 不支持 STARTTLS 加密，未发送任何邮件。"
            "请核对端口：STARTTLS 通常用 587 端口；465 端口请改用 --ssl。"
        )
    return _connect_problem(server, exc)


def _session_problem(server: SmtpServer, exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"邮件服务器 {server.where} 拒绝登录：用户名或密码不正确。"
            "QQ、163 等邮箱须使用在邮箱设置中开启 SMTP 后获得的授权码，而不是登录密码。"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (
            f"邮件服务器 {server.where} 不提供登录（AUTH）功能；"
            "许多服务器只在加密后才允许登录，请尝试 --starttls 或 --ssl。"
        )
    return _connect_problem(server, exc)


# OpenSSL verification codes (X509_V_ERR_*) worth explaining to a user
_CERT_REASONS = {
    9: "证书尚未生效（请检查本机日期和时间）",
    10: "证书已过期",
    18: "证书是服务器自签的，签发机构不受信任",
    19: "证书链中有自签证书，签发机构不受信任",
    20: "证书的签发机构不受信任",
    21: "证书的签发机构不受信任",
    62: "证书与服务器地址不符",
    64: "证书与服务器地址不符",
}


def _certificate_problem(server: SmtpServer, exc: ssl.SSLCertVerificationError) -> str:
    """Why the server's certificate was refused; never a hint to switch checking off."""
    reason = _CERT_REASONS.get(exc.verify_code, f"证书无法验证（{exc.verify_message}）")
    return (
        f"邮件服务器 {server.where} 的安全证书未通过验证：{reason}。"
        "为保护密码和邮件，未发送任何邮件。"
        "请核对 --smtp 的服务器地址（应与邮箱设置说明中的一致，如 smtp.163.com）；"
        "单位内部邮件服务器若使用自建证书，请向管理员索取其根证书（PEM 格式），"
        "把文件路径设为环境变量 SSL_CERT_FILE 后重试。"
    )


def _os_reason(exc: BaseException) -> str:
    """A short Chinese reason for a network error, with the system's wording as a hint."""
    reasons: list[tuple[type[BaseException], str]] = [
        (ConnectionRefusedError, "连接被拒绝（服务器未运行或端口不对）"),
        (socket.gaierror, "找不到该服务器（地址错误或无法解析域名）"),
        (TimeoutError, "连接超时"),
        (ssl.SSLError, "TLS 加密握手失败（可能 --ssl 与 --starttls 选错）"),
        (smtplib.SMTPServerDisconnected, "服务器断开了连接"),
        (ConnectionError, "连接被中断"),
    ]
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return reason
    return f"{type(exc).__name__} {exc}".strip()


def _refused(address: str, exc: smtplib.SMTPRecipientsRefused) -> str:
    replies = "；".join(f"{a}：{_reply(c, m)}" for a, (c, m) in exc.recipients.items())
    return f"收件人 {address} 被邮件服务器拒绝（{replies}）。请核对名单中的邮箱。"


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {message}".strip()


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
