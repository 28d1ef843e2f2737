"""Attachments out of returned e-mail (.eml or .mbox), decoding Chinese names; never writes."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

from nianbao.files import FileProblem

MB = 1024 * 1024
MAX_FILE = 200 * MB  # an mbox export of a whole season of returns stays far below this
MAX_ATTACHMENT = 50 * MB  # the same bound open_returned puts on one workbook
MAX_TOTAL = 500 * MB
MAX_PARTS = 2000  # a real message has a handful; thousands means junk or an attack
MAX_MESSAGES = 5000
_GB = {"gb2312", "gbk", "x-gbk", "cp936", "ms936", "euc-cn", "gb_2312-80", "csgb2312", "936"}
_MAIL_HEADERS = {"from", "to", "subject", "date", "content-type", "mime-version", "message-id"}
_MBOX_SEP = re.compile(rb"^From [^\r\n]*\r?\n", re.M)
_MBOX_QUOTED = re.compile(rb"^>(>*From )", re.M)


class _RawHeaders(Compat32):
    """compat32, but headers keep raw 8-bit bytes (surrogate-escaped) instead of U+FFFD."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders()


@dataclass(frozen=True)
class Attachment:
    """One attached file of a message, with where it came from."""

    message: str  # the message's subject, or the mail file's name when it has none
    filename: str
    data: bytes
    sender: str
    date: str


@dataclass
class MailContents:
    """Every attachment that could be read, and why anything was left out."""

    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    total: int = 0


def extract_workbooks(path: Path) -> list[Attachment]:
    """Every attachment of a .eml or .mbox file; FileProblem when it is no readable mail."""
    return read_mail(path).attachments


def read_mail(path: Path) -> MailContents:
    """Attachments and problems of a .eml or .mbox file; raises FileProblem only if none parse."""
    path = Path(path)
    chunks = split_mbox(_read_bounded(path))
    contents = MailContents()
    if len(chunks) > MAX_MESSAGES:
        contents.problems.append(f"邮件文件中超过 {MAX_MESSAGES} 封邮件，其余未读取。")
    parsed = 0
    for n, chunk in enumerate(chunks[:MAX_MESSAGES], start=1):
        fallback = path.name if len(chunks) == 1 else f"{path.name} 第 {n} 封"
        parsed += _read_message(chunk, fallback, contents)
    if not parsed:
        raise FileProblem("MAIL_UNREADABLE", f"{path.name} 不是可读取的邮件文件（.eml 或 .mbox）。")
    return contents


def _read_bounded(path: Path) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem("FILE_UNREADABLE", f"{path.name} 不是普通文件，无法读取。")
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE + 1)
    except OSError as exc:
        raise FileProblem("FILE_UNREADABLE", f"无法打开邮件文件 {path.name}。") from exc
    if len(raw) > MAX_FILE:
        raise FileProblem(
            "FILE_TOO_LARGE",
            f"邮件文件 {path.name} 超过 {MAX_FILE // MB} MB，请分批导出后再收集。",
        )
    return raw


def split_mbox(raw: bytes) -> list[bytes]:
    """The messages of an mbox (lines starting 'From '), or the whole file as one message."""
    starts = [m for m in _MBOX_SEP.finditer(raw)] if raw.startswith(b"From ") else []
    if not starts:
        return [raw]
    ends = [m.start() for m in starts[1:]] + [len(raw)]
    return [_MBOX_QUOTED.sub(rb"\1", raw[m.end() : end]) for m, end in zip(starts, ends)]


def _read_message(raw: bytes, fallback: str, contents: MailContents) -> bool:
    """Add one message's attachments to `contents`; False when it is no message at all."""
    try:
        msg = BytesParser(policy=_POLICY).parsebytes(raw)
    except Exception:  # the parser is lenient; anything it still raises means junk
        return False
    if not {k.lower() for k in msg.keys()} & _MAIL_HEADERS:
        return False
    label = header_text(msg.get("Subject", "")).strip() or fallback
    sender, date = _sender(msg), _date(msg)
    for n, part in enumerate(_attachment_parts(msg, label, contents), start=1):
        data = _payload(part, label, contents)
        if data is not None:
            name = attachment_name(part) or f"附件{n}"
            contents.attachments.append(Attachment(label, name, data, sender, date))
    return True


def _attachment_parts(msg: Message, label: str, contents: MailContents) -> Iterator[Message]:
    for count, part in enumerate(msg.walk()):
        if count >= MAX_PARTS:
            contents.problems.append(f"邮件「{label}」的组成部分过多，其余部分未读取。")
            return
        if not part.is_multipart() and _is_attachment(part):
            yield part


def _is_attachment(part: Message) -> bool:
    """Attached files, not the message text nor pictures embedded in an HTML body."""
    if part.get_content_disposition() == "attachment":
        return True
    maintype = part.get_content_maintype()
    if maintype == "image" and part.get("Content-ID"):
        return False
    return bool(attachment_name(part)) or maintype not in ("text", "multipart", "message")


def _payload(part: Message, label: str, contents: MailContents) -> bytes | None:
    """The decoded bytes, or None (with a problem) when too large or undecodable."""
    encoded = part.get_payload()
    size = len(encoded) if isinstance(encoded, str | bytes) else 0
    name = attachment_name(part) or "附件"
    if size * 3 // 4 > MAX_ATTACHMENT or contents.total + size * 3 // 4 > MAX_TOTAL:
        contents.problems.append(f"邮件「{label}」的附件「{name}」过大，未读取。")
        return None
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        contents.problems.append(f"邮件「{label}」的附件「{name}」无法解码，未读取。")
        return None
    contents.total += len(data)
    return data


def attachment_name(part: Message) -> str:
    """The attachment's file name from Content-Disposition or Content-Type, decoded."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        try:
            value = part.get_param(param, header=header)
        except Exception:
            continue
        text = _param_text(value) if value else ""
        if text:
            return _clean_name(text)
    return ""


def _param_text(value: str | tuple[str | None, str | None, str]) -> str:
    """An RFC 2231 (charset, language, value) triple or a plain/RFC 2047 value as text."""
    if isinstance(value, tuple):
        charset, _, raw = value
        return decode_bytes(raw.encode("latin-1", "surrogateescape"), charset)
    return header_text(value)


def header_text(value: object) -> str:
    """A header value with RFC 2047 encoded-words or raw 8-bit (GBK or UTF-8) bytes decoded."""
    text = str(value)
    if "=?" not in text:
        return _raw_text(text)
    try:
        pieces = decode_header(text)
    except Exception:  # a broken encoded-word: show it as written rather than fail
        return _raw_text(text)
    return "".join(
        decode_bytes(p, cs) if isinstance(p, bytes) else _raw_text(p) for p, cs in pieces
    )


def _raw_text(text: str) -> str:
    """Undo the parser's surrogate escapes of 8-bit header bytes, guessing UTF-8 or GB18030."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("ascii", "surrogateescape"))


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode with the declared charset (GBK family read as GB18030), then UTF-8, GB18030."""
    declared = (charset or "").strip().lower()
    names = ["gb18030" if declared in _GB else declared] if declared else []
    for name in [*names, "utf-8", "gb18030"]:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("gb18030", "replace")


def _clean_name(name: str) -> str:
    """Only the last path component, without control characters, of sensible length."""
    base = re.split(r"[\\/]", name.strip())[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()[:200]


def _sender(msg: Message) -> str:
    name, address = parseaddr(header_text(msg.get("From", "")))
    return f"{name} <{address}>" if name and address else (address or name)


def _date(msg: Message) -> str:
    raw = header_text(msg.get("Date", "")).strip()
    try:
        return parsedate_to_datetime(raw).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, IndexError, OverflowError):
        return raw
