"""The 汇总 sheet of a summary: what it covers, who reported, key figures, what needs attention."""

from __future__ import annotations

import math

from xlsxwriter.worksheet import Worksheet

from nianbao.collect import (
    COUNTED,
    NOT_REPORTED,
    OUTSIDE,
    REPORTED_ERRORS,
    REPORTED_HINTS,
    REPORTED_OK,
    SUPERSEDED,
    UNREADABLE,
    Collection,
)
from nianbao.form import Form, layout_for
from nianbao.form.layout import quote_sheet
from nianbao.summary_format import (
    CHARTS,
    DETAIL,
    FILES,
    PROBLEMS,
    STATUS,
    note_label,
    report_sheets,
)
from nianbao.summary_styles import Formats

WIDTHS = (46, 12, 58)
CHARS_PER_LINE = 52  # CJK characters across the three merged columns at 10 pt


def sheet_guide(form: Form) -> tuple[tuple[str, str], ...]:
    """Each sheet of the summary and what it holds."""
    spec = form.summary
    charts = "、".join(x for x in (spec.chart_title, spec.mix_title) if x)
    return (
        (
            "、".join(report_sheets(form)),
            "官方格式的汇总报表（各单位数字之和）；本汇总本身也是一份可再次收集的年报",
        ),
        (DETAIL, "每个单位一行、每项数字一列，可筛选；打印时只打印单位信息列"),
        (PROBLEMS, f"每个文件的全部错误和提示，含各单位的{note_label(form)}"),
        (STATUS, "名单内每个单位的状态、联系人和邮箱，未报的排在最前"),
        (FILES, "收到的每个文件及其去向（计入汇总、重复/已被替代、无法读取、名单外单位）"),
        (CHARTS, charts),
    )


class _Sheet:
    """A cursor over the overview sheet: sentences, sections and label/number rows."""

    def __init__(self, ws: Worksheet, f: Formats) -> None:
        self.ws, self.f, self.row = ws, f, 0

    def sentence(self, text: str, fmt=None) -> None:
        lines = max(1, math.ceil(len(text) / CHARS_PER_LINE))
        self.ws.merge_range(self.row, 0, self.row, 2, "", fmt or self.f.text)
        self.ws.write_string(self.row, 0, text, fmt or self.f.text)
        self.ws.set_row(self.row, 15 * lines + 3)
        self.row += 1

    def section(self, title: str) -> None:
        self.row += 1
        self.ws.merge_range(self.row, 0, self.row, 2, "", self.f.section)
        self.ws.write_string(self.row, 0, title, self.f.section)
        self.ws.set_row(self.row, 20)
        self.row += 1

    def item(self, label: str, value: float, remark: str = "", fmt=None) -> None:
        self.ws.write_string(self.row, 0, label, fmt or self.f.cell)
        self.ws.write_number(self.row, 1, value, self.f.number)
        self.ws.write_string(self.row, 2, remark, self.f.note)
        self.ws.set_row(self.row, 15 * max(1, math.ceil(len(remark) / 28)) + 2)
        self.row += 1


def write_overview(ws: Worksheet, coll: Collection, title: str, f: Formats) -> None:
    """The overview sheet, portrait A4, one page wide."""
    for col, width in enumerate(WIDTHS):
        ws.set_column(col, col, width)
    sheet = _Sheet(ws, f)
    ws.merge_range(0, 0, 0, 2, title, f.title)
    ws.set_row(0, 30)
    sheet.row = 1
    sheet.sentence(_scope(coll))
    _reporting(sheet, coll)
    _files(sheet, coll)
    _figures(sheet, coll)
    _attention(sheet, coll)
    sheet.section("各工作表")
    for name, what in sheet_guide(coll.form):
        if name == STATUS and not coll.with_roster:
            what = "收到报表的每个单位的状态（未提供名单，无法列出未报单位）"
        sheet.sentence(f"「{name}」：{what}。")
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.6, right=0.6, top=0.7, bottom=0.7)
    ws.hide_gridlines(2)


def _scope(coll: Collection) -> str:
    summed = coll.summed
    errors = sum(1 for o in summed if o.result.errors)
    outside = sum(1 for o in summed if o.fate == OUTSIDE)
    covered = len(coll.members)
    inner = (
        f"（其中汇总文件 {len(summed)} 个文件共含 {covered} 个单位）"
        if covered != len(summed)
        else ""
    )
    text = f"汇总范围：本汇总是 {len(summed)} 个单位报表的合计{inner}"
    if outside:
        text += f"，其中 {outside} 个是名单外单位"
    return text + (
        f"；其中 {errors} 个单位的报表有错误，已计入汇总并在「{PROBLEMS}」表中标出，"
        "请核实后让其更正。"
        if errors
        else "；计入汇总的报表均无错误。"
    )


def _names(coll: Collection, status: str) -> str:
    return "、".join(s.unit.name for s in coll.statuses if s.status == status)


def _reporting(sheet: _Sheet, coll: Collection) -> None:
    sheet.section("报送情况")
    if not coll.with_roster:
        sheet.sentence("未提供单位名单：按收到的文件汇总，无法判断哪些单位未报。")
    else:
        sheet.item("名单内单位", len(coll.statuses))
    for status in (REPORTED_OK, REPORTED_HINTS, REPORTED_ERRORS, NOT_REPORTED):
        if status == NOT_REPORTED and not coll.with_roster:
            continue
        names = "" if status == REPORTED_OK else _names(coll, status)
        sheet.item(status, coll.count(status), names, sheet.f.for_status(status))
    explained = sum(s.explained for s in coll.statuses)
    if explained:
        note = note_label(coll.form)
        sheet.item(f"其中提示已写{note}（已说明）", explained, f"见「{PROBLEMS}」表「{note}」列")


def _files(sheet: _Sheet, coll: Collection) -> None:
    sheet.section("收到的文件")
    sheet.item("共收到文件", len(coll.outcomes))
    for fate in (COUNTED, OUTSIDE, SUPERSEDED, UNREADABLE):
        group = [o for o in coll.outcomes if o.fate == fate]
        if group or fate in (COUNTED, UNREADABLE):
            names = "、".join(o.result.name for o in group) if fate != COUNTED else ""
            sheet.item(fate, len(group), names)


def _figures(sheet: _Sheet, coll: Collection) -> None:
    form, lay = coll.form, layout_for(coll.form)
    sheet.section("主要数字（计入汇总的全部单位之和）")
    for fid in (k for k in form.summary.key_fields if k in form.by_id):
        f = form.by_id[fid]
        row = "·".join(f.row.path)
        label = (
            f"{form.table(f.table).short} {row}（{f.column_name}）"
            if row
            else (f"{form.table(f.table).short} {f.column_name}")
        )
        cell = lay.fields[fid]
        sheet.ws.write_string(sheet.row, 0, label, sheet.f.cell)
        formula = f"={quote_sheet(cell.sheet)}!{cell.a1}"
        sheet.ws.write_formula(sheet.row, 1, formula, sheet.f.number, coll.totals[fid])
        sheet.ws.set_row(sheet.row, 17)
        sheet.row += 1


def _attention(sheet: _Sheet, coll: Collection) -> None:
    errors = [
        f"{s.unit.name}：{len(s.outcome.result.errors)} 个错误（「{s.outcome.result.name}」），"
        f"见「{PROBLEMS}」表。"
        for s in coll.statuses
        if s.status == REPORTED_ERRORS and s.outcome
    ]
    if coll.issues or errors:
        sheet.section("需要注意")
    for issue in coll.issues:
        sheet.sentence(issue.message, sheet.f.warn)
    for line in errors:
        sheet.sentence(line)
