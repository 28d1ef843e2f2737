"""Collection → summary workbook: the official report of the collecting office plus detail."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from nianbao.atomic import write_bytes_atomic
from nianbao.collect import COUNTED, NOT_REPORTED, OUTSIDE, Collection, UnitStatus
from nianbao.form import Form, layout_for
from nianbao.issues import Issue, sort_issues
from nianbao.template import Contents, UnitInfo, build_report_sheets, meta_fields

OVERVIEW, DETAIL, PROBLEMS, STATUS, FILES, CHARTS = (
    "汇总", "明细", "问题", "报送情况", "文件清单", "图表")
STATUS_HEADERS = ["单位名称", "单位代码", "类别", "上级单位", "状态", "联系人", "邮箱", "文件",
                  "错误数", "提示数", "说明"]
PROBLEM_HEADERS = ["单位", "文件", "位置", "代码", "级别", "问题", "情况说明"]
FILE_HEADERS = ["文件", "单位", "结果", "说明", "SHA-256"]
DETAIL_FIXED = ["单位名称", "单位代码", "类别", "状态", "文件", "SHA-256"]
WB_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
              "strings_to_numbers": False}


def summary_bytes(coll: Collection, *, unit: str = "", year: int | None = None) -> bytes:
    """The summary workbook as .xlsx bytes."""
    form = coll.form
    year = year or coll.year or _common_year(coll) or 0
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, WB_OPTIONS)
    members = [o.unit for o in coll.outcomes if o.fate in (COUNTED, OUTSIDE)]
    meta = meta_fields(form, year, UnitInfo(unit), uuid.uuid4().hex)
    meta |= {"kind": "summary", "members": "\n".join(members)}
    f = _Formats(wb)
    _overview(wb.add_worksheet(OVERVIEW), coll, unit, year, f)
    contents = Contents(values={k: coll.totals[k] for k in (i.id for i in form.inputs)},
                        texts=_summary_texts(coll), locked=False)
    build_report_sheets(wb, form, layout_for(form), year, UnitInfo(unit), meta, "", contents)
    _detail(wb.add_worksheet(DETAIL), coll, f)
    _problems(wb.add_worksheet(PROBLEMS), coll, f)
    _status(wb.add_worksheet(STATUS), coll.statuses, f)
    _files(wb.add_worksheet(FILES), coll, f)
    _charts(wb, coll, f)
    wb.worksheets()[0].activate()
    wb.close()
    return buf.getvalue()


def write_summary(path: Path, coll: Collection, **kwargs: object) -> Path:
    """Write the summary atomically (temporary file, then rename)."""
    return write_bytes_atomic(Path(path), summary_bytes(coll, **kwargs))  # type: ignore[arg-type]


def _common_year(coll: Collection) -> int | None:
    years = {o.result.report.identity.year for o in coll.counted if o.result.report}
    return years.pop() if len(years) == 1 else None


class _Formats:
    def __init__(self, wb: Workbook) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
        self.title = wb.add_format({**base, "bold": True, "font_size": 16})
        self.head = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1,
                                   "text_wrap": True})
        self.ids = wb.add_format({**base, "font_color": "#A6A6A6", "font_size": 8})
        self.text = wb.add_format({**base, "text_wrap": True})
        self.cell = wb.add_format(base)
        self.bad = wb.add_format({**base, "font_color": "#9C0006", "bg_color": "#FFC7CE"})
        self.warn = wb.add_format({**base, "font_color": "#9C5700", "bg_color": "#FFEB9C"})
        self.good = wb.add_format({**base, "font_color": "#006100", "bg_color": "#C6EFCE"})

    def for_status(self, status: str):
        return {NOT_REPORTED: self.bad, "已报有错误": self.bad, "错误": self.bad,
                "已报有提示": self.warn, "提示": self.warn, "已报且通过": self.good}.get(
                    status, self.cell)


def _summary_texts(coll: Collection) -> dict[str, str]:
    units = len(coll.counted)
    errors = sum(1 for o in coll.counted if o.result.errors)
    return {"s1": f"本汇总由 {units} 个单位的年报汇总而成（其中 {errors} 个单位的报表有错误），"
                  "总体情况请根据各单位报告撰写。"}


def _overview(ws: Worksheet, coll: Collection, unit: str, year: int, f: _Formats) -> None:
    form = coll.form
    counted = coll.counted
    errors = sum(1 for o in counted if o.result.errors)
    lines = [
        (f"汇总范围：共汇总 {len(counted)} 个单位的报表，其中 {errors} 个单位的报表有错误"
         "（已计入汇总并在「问题」表中标出）。"),
        f"报送情况：名单内 {len(coll.statuses)} 个单位，"
        + "，".join(f"{s} {coll.count(s)} 个" for s in ("已报且通过", "已报有提示", "已报有错误",
                                                       NOT_REPORTED)) + "。",
        f"收到文件 {len(coll.outcomes)} 个：计入汇总 {len(counted)} 个，"
        f"重复/已被替代 {sum(1 for o in coll.outcomes if o.fate == '重复/已被替代')} 个，"
        f"无法读取 {sum(1 for o in coll.outcomes if o.fate == '无法读取')} 个。",
        "官方格式的汇总表见「表二」「表三」「表四」工作表（本汇总本身也是一份可再次收集的年报）；"
        "各单位数字见「明细」，问题清单见「问题」，报送情况见「报送情况」。",
    ]
    ws.set_column(0, 0, 110)
    ws.write_string(0, 0, form.title_for(unit or "（汇总单位）", year) + "（汇总）", f.title)
    ws.set_row(0, 30)
    for n, line in enumerate(lines, start=2):
        ws.write_string(n, 0, line, f.text)
        ws.set_row(n, 32)
    row = len(lines) + 3
    for issue in coll.issues:
        ws.write_string(row, 0, issue.message, f.warn)
        row += 1
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def _header(ws: Worksheet, headers: list[str], f: _Formats, widths: list[float]) -> None:
    for col, (name, width) in enumerate(zip(headers, widths)):
        ws.write_string(0, col, name, f.head)
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 1)


def _detail(ws: Worksheet, coll: Collection, f: _Formats) -> None:
    form, lay = coll.form, layout_for(coll.form)
    fields = list(form.fields)
    headers = DETAIL_FIXED + [lay.describe(x.id).split("（")[0] for x in fields] + ["情况说明"]
    _header(ws, headers, f, [14, 10, 8, 10, 24, 20] + [12.0] * (len(fields) + 1))
    ws.set_row(0, 60)
    for col, fid in enumerate([x.id for x in fields], start=len(DETAIL_FIXED)):
        ws.write_string(1, col, fid, f.ids)
    ws.set_row(1, None, None, {"hidden": True})
    row = 2
    for o in coll.outcomes:
        report = o.result.report
        if o.fate not in (COUNTED, OUTSIDE) or report is None:
            continue
        status = "名单外单位" if o.fate == OUTSIDE else o.result.status
        ident = report.identity
        for col, text in enumerate([o.unit, ident.unit_code, ident.category, status,
                                    o.result.name, report.sha256]):
            ws.write_string(row, col, text, f.cell)
        values = form.compute(report.values)
        for col, x in enumerate(fields, start=len(DETAIL_FIXED)):
            ws.write_number(row, col, values[x.id])
        ws.write_string(row, len(headers) - 1, report.texts.get("note", ""), f.cell)
        row += 1
    ws.freeze_panes(2, 1)
    ws.autofilter(0, 0, max(row - 1, 1), len(headers) - 1)


def all_issues(coll: Collection) -> list[Issue]:
    issues = [i for o in coll.outcomes for i in o.result.issues]
    return sort_issues(issues + coll.issues)


def _problems(ws: Worksheet, coll: Collection, f: _Formats) -> None:
    _header(ws, PROBLEM_HEADERS, f, [16, 24, 14, 18, 8, 70, 40])
    row = 1
    for issue in all_issues(coll):
        cells = [issue.unit, issue.file, issue.place, issue.code, issue.status, issue.message,
                 issue.explanation]
        for col, text in enumerate(cells):
            ws.write_string(row, col, text, f.for_status(issue.status) if col == 4 else f.text)
        row += 1
    ws.autofilter(0, 0, max(row - 1, 1), len(PROBLEM_HEADERS) - 1)


def _status(ws: Worksheet, statuses: list[UnitStatus], f: _Formats) -> None:
    _header(ws, STATUS_HEADERS, f, [18, 12, 8, 14, 12, 10, 24, 28, 8, 8, 30])
    for row, s in enumerate(statuses, start=1):
        result = s.outcome.result if s.outcome else None
        cells = [s.unit.name, s.unit.code, s.unit.category, s.unit.parent, s.status,
                 s.unit.contact, s.unit.email, result.name if result else ""]
        for col, text in enumerate(cells):
            ws.write_string(row, col, text, f.for_status(s.status) if col == 4 else f.cell)
        if result:
            ws.write_number(row, 8, len(result.errors))
            ws.write_number(row, 9, len([i for i in result.issues if not i.is_error]))
        ws.write_string(row, 10, s.outcome.note if s.outcome else "", f.cell)
    ws.autofilter(0, 0, max(len(statuses), 1), len(STATUS_HEADERS) - 1)


def _files(ws: Worksheet, coll: Collection, f: _Formats) -> None:
    _header(ws, FILE_HEADERS, f, [36, 18, 14, 60, 66])
    for row, o in enumerate(coll.outcomes, start=1):
        reason = o.note or "；".join(i.message for i in o.result.issues if o.fate == "无法读取")
        sha = o.result.report.sha256 if o.result.report else ""
        for col, text in enumerate([o.result.name, o.unit, o.fate, reason, sha]):
            ws.write_string(row, col, text, f.text)


def _charts(wb: Workbook, coll: Collection, f: _Formats) -> None:
    from nianbao.summary_charts import add_charts

    add_charts(wb, wb.add_worksheet(CHARTS), coll, f.head)
