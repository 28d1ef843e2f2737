"""E-mail to the reporting units: notices with their template, reminders, drafts, sending.

Sending and the send log live in mail_send.py, reading returned mail in mail_extract.py; both
are re-exported here so that `from nianbao.mail import ...` is the one import a user needs.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from importlib import resources
from pathlib import Path

import openpyxl

from nianbao.atomic import write_bytes_atomic
from nianbao.issues import ERROR
from nianbao.mail_extract import Attachment, MailContents, extract_workbooks, read_mail
from nianbao.mail_send import (
    LOG_NAME,
    MailError,
    Outgoing,
    SendLog,
    SendReport,
    SmtpServer,
    parse_smtp,
    send_all,
)
from nianbao.roster import safe_filename
from nianbao.summary_format import (
    PROBLEM_LEVEL,
    PROBLEM_PLACE,
    PROBLEM_TEXT,
    PROBLEM_UNIT,
    PROBLEMS,
    STATUS,
    STATUS_CODE,
    STATUS_EMAIL,
    STATUS_STATE,
    STATUS_UNIT,
)
from nianbao.template import UnitInfo
from nianbao.templates_out import roster_template_path

__all__ = [
    "LOG_NAME",
    "Attachment",
    "Batch",
    "Letterhead",
    "MailContents",
    "MailError",
    "Outgoing",
    "SendLog",
    "SendReport",
    "SmtpServer",
    "StatusRow",
    "default_body",
    "extract_workbooks",
    "notice_batch",
    "parse_smtp",
    "read_mail",
    "read_status",
    "reminder_batch",
    "send_all",
    "unknown_placeholders",
    "write_drafts",
]

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
NOTICE, REMIND, CORRECT = "通知", "催报", "退回修改"
SUBJECTS = {
    NOTICE: "关于报送{year}年度政府信息公开工作年度报告的通知（{unit}）",
    REMIND: "关于催报{year}年度政府信息公开工作年度报告的通知（{unit}）",
    CORRECT: "关于修改{year}年度政府信息公开工作年度报告的通知（{unit}）",
}
NOT_SENT, HAS_ERRORS = "未报", "已报有错误"
PLACEHOLDERS = frozenset(
    (
        "单位名称",
        "单位代码",
        "年度",
        "截止日期",
        "发件单位",
        "回复邮箱",
        "附件名",
        "情况说明",
        "问题清单",
    )
)
_PLACEHOLDER = re.compile(r"\{([^{}\s]{1,12})\}")
_ADDRESS_SPLIT = re.compile(r"[;,，；、\s]+")
_STATUS_READ = (STATUS_UNIT, STATUS_CODE, STATUS_STATE, STATUS_EMAIL)
_PROBLEMS_READ = (PROBLEM_UNIT, PROBLEM_PLACE, PROBLEM_LEVEL, PROBLEM_TEXT)
MAX_LISTED = 50  # problems listed in one reminder; a longer list helps nobody


@dataclass(frozen=True)
class Letterhead:
    """Who writes, for which year, and by when the returns are due."""

    year: int
    from_addr: str = ""
    from_name: str = ""
    reply_to: str = ""
    deadline: str = ""


@dataclass
class Batch:
    """Messages to send or draft, and the units that could not get one."""

    messages: list[Outgoing] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)  # unit names, with the bad address if any
    missing_template: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatusRow:
    """One unit of a collect summary: its status and, when it has errors, where and what."""

    name: str
    code: str
    status: str
    email: str
    problems: tuple[tuple[str, str], ...] = ()  # (位置, 问题) of its 错误


def default_body(remind: bool = False) -> str:
    """The built-in body template (a copy to edit is in templates/)."""
    name = "mail_remind.txt" if remind else "mail_body.txt"
    resource = resources.files("nianbao") / "resources" / name  # 3.10: joinpath takes one part
    return resource.read_text(encoding="utf-8")


def unknown_placeholders(template: str) -> list[str]:
    """Placeholders like {单位} that the body template uses but nothing fills."""
    return sorted({m for m in _PLACEHOLDER.findall(template) if m not in PLACEHOLDERS})


def render_body(template: str, values: dict[str, str]) -> str:
    """Fill {单位名称}-style placeholders; other braces are left as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def addresses(text: str) -> list[str]:
    """The addresses in a roster cell (several may be separated by ; , or spaces)."""
    return [a for a in _ADDRESS_SPLIT.split(text.strip()) if a]


def _valid(address: str) -> bool:
    return re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address) is not None


def _fields(head: Letterhead, unit: str, code: str = "", attachment: str = "") -> dict[str, str]:
    return {
        "单位名称": unit,
        "单位代码": code,
        "年度": str(head.year),
        "截止日期": head.deadline or "规定时间",
        "发件单位": head.from_name or "我们",
        "回复邮箱": head.reply_to or head.from_addr or "本邮件的发件地址",
        "附件名": attachment,
    }


def build_message(
    head: Letterhead, to: list[str], subject: str, body: str, attachment: Path | None = None
) -> EmailMessage:
    """A MIME message; the attachment's Chinese name goes out RFC 2231-encoded."""
    msg = EmailMessage(policy=policy.SMTP)
    if head.from_addr:
        msg["From"] = formataddr((head.from_name, head.from_addr))
    msg["To"] = ", ".join(to)
    if head.reply_to:
        msg["Reply-To"] = head.reply_to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    domain = head.from_addr.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body, cte="base64")  # base64: no 8BITMIME needed on any relay
    if attachment is not None:
        # no Content-Type name= too: with it, Python folds the long MIME type into an
        # encoded-word ("application/=?utf-8?q?vnd...") that no mail client understands
        msg.add_attachment(attachment.read_bytes(), *XLSX_TYPE, filename=attachment.name)
    return msg


def _recipients(email: str, name: str, batch: Batch) -> list[str]:
    """The unit's valid addresses; the unit is listed in the batch when it has none."""
    found = addresses(email)
    if found and all(_valid(a) for a in found):
        return found
    batch.no_address.append(f"{name}（邮箱「{email}」无效）" if email.strip() else name)
    return []


def notice_batch(
    units: tuple[UnitInfo, ...] | list[UnitInfo],
    outbox: Path,
    head: Letterhead,
    body_template: str | None = None,
) -> Batch:
    """One notice per unit with an address, its template from the outbox attached."""
    template = default_body() if body_template is None else body_template
    batch = Batch()
    for unit in units:
        to = _recipients(unit.email, unit.name, batch)
        path = roster_template_path(outbox, unit)
        if not to:
            continue
        if not path.is_file():
            batch.missing_template.append(unit.name)
            continue
        body = render_body(template, _fields(head, unit.name, unit.code, path.name))
        subject = SUBJECTS[NOTICE].format(year=head.year, unit=unit.name)
        msg = build_message(head, to, subject, body, path)
        batch.messages.append(Outgoing(unit.name, ", ".join(to), NOTICE, head.year, "", msg))
    return batch


def read_status(path: Path) -> list[StatusRow]:
    """Units, statuses and 错误 problems from a collect summary (columns found by header)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # openpyxl warns about styles it ignores
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a non-workbook
        raise MailError(
            f"汇总表 {path.name} 无法打开，请指定 nianbao collect 生成的汇总表。"
        ) from exc
    try:
        units = _sheet_rows(wb, path, STATUS, _STATUS_READ)
        problems = _sheet_rows(wb, path, PROBLEMS, _PROBLEMS_READ)
    finally:
        wb.close()
    errors: dict[str, list[tuple[str, str]]] = {}
    for p in problems:
        if p[PROBLEM_LEVEL] == ERROR:
            errors.setdefault(p[PROBLEM_UNIT], []).append((p[PROBLEM_PLACE], p[PROBLEM_TEXT]))
    return [
        StatusRow(
            u[STATUS_UNIT],
            u[STATUS_CODE],
            u[STATUS_STATE],
            u[STATUS_EMAIL],
            tuple(errors.get(u[STATUS_UNIT]) or errors.get(u[STATUS_CODE]) or ()),
        )
        for u in units
        if u[STATUS_UNIT]
    ]


def _sheet_rows(
    wb: openpyxl.Workbook, path: Path, sheet: str, columns: tuple[str, ...]
) -> list[dict[str, str]]:
    if sheet not in wb.sheetnames:
        raise MailError(
            f"汇总表 {path.name} 中没有「{sheet}」工作表，请指定 nianbao collect 生成的汇总表。"
        )
    rows = [[_text(v) for v in r] for r in wb[sheet].iter_rows(values_only=True)]
    for n, header in enumerate(rows[:10]):
        if set(columns) <= set(header):
            index = {c: header.index(c) for c in columns}
            return [
                {c: row[i] if i < len(row) else "" for c, i in index.items()}
                for row in rows[n + 1 :]
            ]
    missing = "、".join(columns)
    raise MailError(f"汇总表 {path.name} 的「{sheet}」工作表缺少表头：{missing}。")


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def reminder_batch(
    rows: list[StatusRow],
    outbox: Path,
    head: Letterhead,
    body_template: str | None = None,
    roster: tuple[UnitInfo, ...] | list[UnitInfo] = (),
) -> Batch:
    """Reminders to units 未报 (template attached) or 已报有错误 (their errors listed)."""
    template = default_body(remind=True) if body_template is None else body_template
    by_code = {u.code: u for u in roster if u.code}
    by_name = {u.name: u for u in roster}
    batch = Batch()
    for row in rows:
        if row.status not in (NOT_SENT, HAS_ERRORS):
            continue
        unit = by_code.get(row.code) or by_name.get(row.name) or UnitInfo(row.name, row.code)
        to = _recipients(row.email or unit.email, row.name, batch)
        if to:
            batch.messages.append(_reminder(row, unit, to, outbox, head, template))
    return batch


def _reminder(
    row: StatusRow, unit: UnitInfo, to: list[str], outbox: Path, head: Letterhead, template: str
) -> Outgoing:
    kind = REMIND if row.status == NOT_SENT else CORRECT
    path = roster_template_path(outbox, unit)
    attachment = path if kind == REMIND and path.is_file() else None
    values = _fields(head, row.name, row.code, attachment.name if attachment else "")
    values["情况说明"] = _situation(kind, attachment)
    values["问题清单"] = _problem_list(row.problems) if kind == CORRECT else ""
    subject = SUBJECTS[kind].format(year=head.year, unit=row.name)
    msg = build_message(head, to, subject, render_body(template, values), attachment)
    digest = hashlib.sha256(repr((row.status, row.problems)).encode()).hexdigest()[:12]
    return Outgoing(row.name, ", ".join(to), kind, head.year, digest, msg)


def _situation(kind: str, attachment: Path | None) -> str:
    if kind == CORRECT:
        return "贵单位报送的年度报告经校验存在以下错误，请修改后重新报送："
    again = f"现再次附上填报模板「{attachment.name}」。" if attachment else ""
    return f"截至目前，我们尚未收到贵单位报送的年度报告。{again}"


def _problem_list(problems: tuple[tuple[str, str], ...]) -> str:
    lines = [f"{n}. {place}：{text}" for n, (place, text) in enumerate(problems[:MAX_LISTED], 1)]
    if len(problems) > MAX_LISTED:
        lines.append(f"……另有 {len(problems) - MAX_LISTED} 条错误，请用 nianbao check 查看全部。")
    return "\n".join(lines) + "\n" if lines else ""


def draft_bytes(msg: EmailMessage) -> bytes:
    """The message as an .eml that Outlook opens as an unsent draft (X-Unsent: 1)."""
    return b"X-Unsent: 1\r\n" + msg.as_bytes(policy=policy.SMTP)


def write_drafts(messages: list[Outgoing], folder: Path) -> list[Path]:
    """One .eml per message, named after the unit (and the kind, for reminders)."""
    paths = []
    for out in messages:
        suffix = "" if out.kind == NOTICE else f"（{out.kind}）"
        path = Path(folder) / f"{safe_filename(out.unit)}{suffix}.eml"
        paths.append(write_bytes_atomic(path, draft_bytes(out.message)))
    return paths
