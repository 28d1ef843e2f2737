"""Returns that came as e-mail: every workbook attached to a .eml/.mbox in the folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nianbao.check import FileResult, check_bytes, file_issue
from nianbao.files import FileProblem, Format, sniff
from nianbao.form import Form
from nianbao.mail_extract import read_mail

MAIL_SUFFIXES = (".eml", ".mbox")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ods", ".docx", ".htm", ".html")
WORKBOOK_FORMATS = {Format.XLSX, Format.XLS, Format.ODS, Format.HTML, Format.XML2003}
HEAD = 8192


def is_mail(path: Path) -> bool:
    """A saved e-mail, by its content (any name) or its .eml/.mbox suffix."""
    if path.suffix.lower() in MAIL_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            return _sniffed(fh.read(HEAD)) == Format.EML
    except OSError:
        return False


def _sniffed(head: bytes) -> Format | None:
    try:
        return sniff(head)
    except FileProblem:
        return None


@dataclass(frozen=True)
class MailReturn:
    path: Path
    result: FileResult


def check_mail(path: Path, name: str, form: Form, expected_year: int | None) -> list[MailReturn]:
    """One checked result per workbook attachment, named «message → attachment»."""
    try:
        contents = read_mail(path)
    except FileProblem as exc:
        return [
            MailReturn(
                path, FileResult(path, name, issues=[file_issue(exc.code, exc.message, name)])
            )
        ]
    out = []
    for att in contents.attachments:
        if not _is_workbook(att.filename, att.data):
            continue
        label = f"{name} → {att.filename}（{att.sender}，{att.date}）"
        out.append(
            MailReturn(
                path,
                check_bytes(att.data, label, form=form, expected_year=expected_year, origin=path),
            )
        )
    if not out:
        message = "邮件中没有 Excel 年报附件。" + "；".join(contents.problems)
        out.append(
            MailReturn(
                path, FileResult(path, name, issues=[file_issue("MAIL_NO_WORKBOOK", message, name)])
            )
        )
    return out


def _is_workbook(filename: str, data: bytes) -> bool:
    return filename.lower().endswith(WORKBOOK_SUFFIXES) or _sniffed(data[:HEAD]) in WORKBOOK_FORMATS
