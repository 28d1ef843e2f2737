"""Collection → summary workbook: the official report of the collecting office plus detail."""

from __future__ import annotations

import io
import math
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from nianbao.atomic import write_bytes_atomic
from nianbao.collect import (
    COUNTED,
    OUTSIDE,
    STATUS_OF,
    SUPERSEDED,
    UNREADABLE,
    Collection,
    Outcome,
    UnitStatus,
)
from nianbao.form import layout_for
from nianbao.issues import Issue, sort_issues
from nianbao.parallel import no_cyclic_gc
from nianbao.summary_charts import add_charts
from nianbao.summary_format import (
    CHARTS,
    DETAIL,
    DETAIL_FIRST_ROW,
    DETAIL_ID_ROW,
    FILE_HEADERS,
    FILES,
    OVERVIEW,
    PROBLEMS,
    STATUS,
    STATUS_HEADERS,
    detail_fixed,
    problem_headers,
)
from nianbao.summary_overview import write_overview
from nianbao.summary_rows import NumberRowsSheet
from nianbao.summary_styles import Formats
from nianbao.template import Contents, UnitInfo, build_report_sheets, meta_fields

PROBLEM_WIDTHS = [16, 24, 12, 16, 7, 60, 40]
FILE_WIDTHS = [36, 18, 12, 60]
WB_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def summary_bytes(coll: Collection, *, unit: str = "", year: int | None = None) -> bytes:
    """The summary workbook as .xlsx bytes."""
    with no_cyclic_gc():
        return _summary_bytes(coll, unit, year)


def _summary_bytes(coll: Collection, unit: str, year: int | None) -> bytes:
    form = coll.form
    year = year or coll.year or _common_year(coll) or 0
    office = UnitInfo(unit or _common_parent(coll))
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, WB_OPTIONS)
    meta = meta_fields(form, year, office, uuid.uuid4().hex)
    meta |= {"kind": "summary", "members": "\n".join(coll.members)}
    f = Formats(wb)
    title = form.title_for(office.name or "（汇总单位）", year) + "（汇总）"
    write_overview(wb.add_worksheet(OVERVIEW), coll, title, f)
    contents = Contents(
        values={k: coll.totals[k] for k in (i.id for i in form.inputs)},
        texts=_summary_texts(coll),
        locked=False,
    )
    build_report_sheets(wb, form, layout_for(form), year, office, meta, "", contents)
    new_totals = _detail(wb.add_worksheet(DETAIL, NumberRowsSheet), coll, f)
    _problems(wb.add_worksheet(PROBLEMS), coll, f)
    _status(wb.add_worksheet(STATUS), coll.statuses, f)
    _files(wb.add_worksheet(FILES), coll, f)
    add_charts(wb, wb.add_worksheet(CHARTS), coll, f.head, new_totals)
    wb.worksheets()[0].activate()
    wb.close()
    return buf.getvalue()


def write_summary(path: Path, coll: Collection, **kwargs: object) -> Path:
    """Write the summary atomically: an existing file is replaced only once all is written."""
    return write_bytes_atomic(Path(path), summary_bytes(coll, **kwargs))  # type: ignore[arg-type]  # its own kwargs


def _common_year(coll: Collection) -> int | None:
    years = {o.result.report.identity.year for o in coll.counted if o.result.report}
    return years.pop() if len(years) == 1 else None


def _common_parent(coll: Collection) -> str:
    """The collecting office when every roster unit names the same 上级单位."""
    parents = {s.unit.parent for s in coll.statuses} if coll.with_roster else set()
    return parents.pop() if len(parents) == 1 else ""


def _summary_texts(coll: Collection) -> dict[str, str]:
    units = len(coll.members)
    errors = sum(1 for o in coll.summed if o.result.errors)
    return {
        "s1": f"本汇总由 {units} 个单位的年报汇总而成（其中 {errors} 个单位的报表有错误），"
        "总体情况请根据各单位报告撰写。"
    }


def wrapped_height(cells: Sequence[str], widths: Sequence[float]) -> float:
    """Row height for wrapped text: Excel and LibreOffice do not grow rows written by XlsxWriter."""
    # A CJK character takes about two width units; ASCII about one.
    lines = max(
        math.ceil(_text_width(text) / max(width - 1, 1)) or 1 for text, width in zip(cells, widths)
    )
    return 14.0 * lines + 3


_WIDE = re.compile("[\u2e80-\U0010ffff]")  # characters two units wide (ord > 0x2E7F)


def _text_width(text: str) -> int:
    return len(text) + len(_WIDE.findall(text))


def _header(ws: Worksheet, headers: Sequence[str], f: Formats, widths: Sequence[float]) -> None:
    for col, (name, width) in enumerate(zip(headers, widths)):
        ws.write_string(0, col, name, f.head)
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 1)


def _print_setup(ws: Worksheet, name: str, last_row: int, last_col: int) -> None:
    """Landscape A4, one page wide, header row on every page, the sheet name in the header."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.print_area(0, 0, max(last_row, 1), last_col)
    ws.set_header(f"&L{name}")
    ws.set_footer("&C第 &P 页，共 &N 页")


def _detail(ws: NumberRowsSheet, coll: Collection, f: Formats) -> list[tuple[str, float]]:
    """One row per summed file; returns each unit's 本年新收 for the charts (computed once)."""
    form, lay = coll.form, layout_for(coll.form)
    new_totals: list[tuple[str, float]] = []
    fields = list(form.fields)
    fixed = detail_fixed(form)
    headers = [*fixed, *(lay.describe(x.id, address=False) for x in fields)]
    _header(ws, headers, f, [14, 10, 8, 10, 24, 20, 30] + [12.0] * len(fields))
    ws.set_row(0, 60)
    for col, fid in enumerate([x.id for x in fields], start=len(fixed)):
        ws.write_string(DETAIL_ID_ROW, col, fid, f.ids)
    ws.set_row(DETAIL_ID_ROW, None, None, {"hidden": True})
    row = DETAIL_FIRST_ROW
    for o in coll.summed:
        report = o.result.report
        assert report is not None
        status = OUTSIDE if o.fate == OUTSIDE else STATUS_OF[o.result.status]
        ident = report.identity
        for col, text in enumerate(
            [
                o.unit,
                ident.unit_code,
                ident.category,
                status,
                o.result.name,
                report.sha256,
                report.texts.get("note", ""),
            ]
        ):
            ws.write_string(row, col, text, f.for_status(status) if col == 3 else f.cell)
        values = report.computed(form)  # computed by the rules, in the worker
        ws.write_numbers(row, len(fixed), [values[x.id] for x in fields])
        new_totals.append((o.unit, values.get(form.summary.chart_field, 0.0)))
        row += 1
    ws.freeze_panes(DETAIL_FIRST_ROW, 1)
    ws.autofilter(0, 0, max(row - 1, 1), len(headers) - 1)
    # 150 figure columns print as dozens of unreadable pages: print the units, look the rest up.
    _print_setup(
        ws,
        "明细（打印范围只含单位信息列，各项数字请在 Excel 中查看）",
        row - 1,
        len(fixed) - 1,
    )
    return new_totals


def all_issues(coll: Collection) -> list[Issue]:
    """Issues of every file that counts or could not be read (a superseded file's are moot)."""
    issues = [i for o in coll.outcomes if o.fate != SUPERSEDED for i in o.result.issues]
    return sort_issues(issues + coll.issues)


def _problems(ws: Worksheet, coll: Collection, f: Formats) -> None:
    headers = problem_headers(coll.form)
    _header(ws, headers, f, PROBLEM_WIDTHS)
    row = 1
    for issue in all_issues(coll):
        cells = [
            issue.unit,
            issue.file,
            issue.place,
            issue.code,
            issue.status,
            issue.message,
            issue.explanation,
        ]
        for col, text in enumerate(cells):
            ws.write_string(row, col, text, f.for_status(issue.status) if col == 4 else f.text)
        ws.set_row(row, wrapped_height(cells, PROBLEM_WIDTHS))
        row += 1
    ws.autofilter(0, 0, max(row - 1, 1), len(headers) - 1)
    _print_setup(ws, PROBLEMS, row - 1, len(headers) - 1)


def _status(ws: Worksheet, statuses: list[UnitStatus], f: Formats) -> None:
    _header(ws, STATUS_HEADERS, f, [22, 11, 9, 24, 11, 8, 22, 30, 7, 7, 8, 30])
    for row, s in enumerate(statuses, start=1):
        result = s.outcome.result if s.outcome else None
        cells = [
            s.unit.name,
            s.unit.code,
            s.unit.category,
            s.unit.parent,
            s.status,
            s.unit.contact,
            s.unit.email,
            result.name if result else "",
        ]
        for col, text in enumerate(cells):
            ws.write_string(row, col, text, f.for_status(s.status) if col == 4 else f.cell)
        if result:
            ws.write_number(row, 8, len(result.errors))
            ws.write_number(row, 9, len(result.open_hints))
            ws.write_number(row, 10, s.explained)
        ws.write_string(row, 11, s.outcome.note if s.outcome else "", f.cell)
    ws.autofilter(0, 0, max(len(statuses), 1), len(STATUS_HEADERS) - 1)
    _print_setup(ws, STATUS, len(statuses), len(STATUS_HEADERS) - 1)


def file_reason(o: Outcome) -> str:
    """Why a file has its fate, in one line."""
    if o.fate == UNREADABLE:
        return "；".join(i.message for i in o.result.issues)
    status = STATUS_OF.get(o.result.status, "")
    return "；".join(x for x in (status if o.fate == COUNTED else "", o.note) if x)


def _files(ws: Worksheet, coll: Collection, f: Formats) -> None:
    _header(ws, FILE_HEADERS, f, [*FILE_WIDTHS, 66])
    for row, o in enumerate(coll.outcomes, start=1):
        sha = o.result.report.sha256 if o.result.report else ""
        cells = [o.result.name, o.unit, o.fate, file_reason(o), sha]
        for col, text in enumerate(cells):
            ws.write_string(row, col, text, f.text)
        ws.set_row(row, wrapped_height(cells[:4], FILE_WIDTHS))
    _print_setup(ws, FILES, len(coll.outcomes), len(FILE_HEADERS) - 2)
