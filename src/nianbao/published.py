"""A published report (.docx, or a web page) read as a return: the same UnitReport a workbook gives.

The figures come from the importer (found by the official labels); whatever it could not read with
certainty becomes an IMPORT_UNCERTAIN issue naming its place in the document. Published totals
are kept as stored totals, so that the checker reports a total that disagrees with its parts.
"""

from __future__ import annotations

import re

from nianbao.files import FileProblem, Format, Opened
from nianbao.form import Form, Table, layout_for, load_form
from nianbao.form.model import TextField
from nianbao.importer import ImportResult, import_bytes
from nianbao.importer_sources import SourceError, decode_html, html_lines
from nianbao.importer_tables import unnumbered
from nianbao.issues import ERROR, HINT, Issue
from nianbao.numbers import Parsed
from nianbao.reader import Identity, UnitReport
from nianbao.report import sections

CODE = "IMPORT_UNCERTAIN"
SOURCE = "published"
# Every importer problem about a figure it left out says 「未读取」; the others (a placeholder read
# as 0, an old single row counted in 「其他」, the title or year not found) read something.
NOT_READ = "未读取"
_KINDS = {Format.DOCX: ("report.docx", "Word 文档"), Format.HTML: ("report.html", "网页")}
# Excel's and WPS's "save as web page" of a workbook: a spreadsheet, never a published report.
_SPREADSHEET_HTML = re.compile(
    r"urn:schemas-microsoft-com:office:excel|progid\s*=?\s*[\"']?excel\.sheet", re.IGNORECASE
)
# The sections whose headings mark a published report (一 and 三, present in every variant).
_MARKER_SECTIONS = ("s1", "t3")


def looks_published(opened: Opened, form: Form | None = None) -> bool:
    """True for a Word document, and for a web page with the report's headings as running text.

    An HTML "xls" (a workbook saved as a web page) has the same headings only as spreadsheet
    cells, each alone in its cell; it is False and stays the workbook reader's.
    """
    if opened.format == Format.DOCX:
        return True
    if opened.format != Format.HTML or _SPREADSHEET_HTML.search(
        opened.data[:8192].decode("latin-1")
    ):
        return False
    wanted = _marker_headings(form)
    lines = html_lines(decode_html(opened.data))
    found = {unnumbered(ln.text) for ln in lines if not ln.table_row}
    return all(heading in found for heading in wanted)


def _marker_headings(form: Form | None) -> list[str]:
    items = {item.id: item for item in sections(form or load_form())}
    return [unnumbered(_heading(items[sid])) for sid in _MARKER_SECTIONS]


def _heading(item: TextField | Table) -> str:
    return item.title if isinstance(item, Table) else item.label


def report_from_published(opened: Opened, name: str, form: Form) -> UnitReport:
    """The UnitReport of a published report; FileProblem when it is no annual report at all."""
    if opened.format not in _KINDS:
        raise ValueError(f"not a published report format: {opened.format}")
    as_name, kind = _KINDS[opened.format]
    try:
        result = import_bytes(opened.data, as_name, form)
    except SourceError as exc:
        raise FileProblem("FILE_CORRUPT", str(exc)) from exc
    if not result.values:  # a cover letter, or tables only as pictures: nothing to count
        raise FileProblem("FILE_NOT_FORM", _not_a_report(kind, form))
    report = UnitReport(name, _identity(result, form), sha256=opened.sha256)
    report.parsed = {fid: Parsed(value, "ok", value) for fid, value in result.values.items()}
    report.stored = dict(result.stored_totals)
    report.texts = _texts(result, form)
    report.issues = [_issue(problem, kind) for problem in result.problems]
    report.readable = all(f.id in result.values for f in form.inputs)
    return report


def _not_a_report(kind: str, form: Form) -> str:
    tables = "、".join(t.short for t in form.tables)
    return (
        f"这是{kind}，但其中既没有「×××{form.name}」的标题，也找不到{tables}的数字"
        f"（可能不是{form.name}，或表格是图片），无法读取。请报送填写好的 Excel 年报模板。"
    )


def _identity(result: ImportResult, form: Form) -> Identity:
    return Identity(
        form_id=form.id,
        form_version=form.version,
        year=result.year,
        unit=result.unit,
        source=SOURCE,
    )


def _texts(result: ImportResult, form: Form) -> dict[str, str]:
    """Every text of the layout, as the workbook reader gives them: absent ones are ""."""
    texts = {tid: "" for tid in layout_for(form).texts}
    texts.update({tid: text for tid, text in result.texts.items() if tid in texts})
    if "unit" in texts:
        texts["unit"] = result.unit
    return texts


def _issue(problem: str, kind: str) -> Issue:
    """An importer problem, whose text starts with its place in the document."""
    return Issue(CODE, ERROR if NOT_READ in problem else HINT, f"从{kind}读取：{problem}")
