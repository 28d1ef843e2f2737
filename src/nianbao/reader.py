"""Returned workbook → the figures of one unit (the only place that parses workbooks)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import python_calamine as calamine

from nianbao.files import FileProblem, Format, Opened, open_returned
from nianbao.form import Form, Layout, layout_for, load_form
from nianbao.issues import HINT, Issue
from nianbao.locate import EXACT, UNCERTAIN, Grid, Located, at, locate_table, norm
from nianbao.numbers import Parsed, parse_number

TITLE = re.compile(r"^(?P<unit>.*?)(?P<year>\d{4})年")


@dataclass(frozen=True)
class Identity:
    form_id: str = ""
    form_version: str = ""
    year: int | None = None
    unit: str = ""
    unit_code: str = ""
    category: str = ""
    parent: str = ""
    template_id: str = ""
    kind: str = "unit"  # "unit" or "summary"
    source: str = "meta"  # where the identity came from: meta, title


@dataclass
class UnitReport:
    """What one returned file says: identity, figures as read, texts, stored totals."""

    file: str
    identity: Identity
    parsed: dict[str, Parsed] = field(default_factory=dict)  # input field id → parsed cell
    texts: dict[str, str] = field(default_factory=dict)
    stored: dict[str, float] = field(default_factory=dict)  # numbers found in total cells
    cells: dict[str, str] = field(default_factory=dict)  # field id → sheet!A1 actually read
    issues: list[Issue] = field(default_factory=list)  # found while reading
    sha256: str = ""
    readable: bool = True  # False: the figures could not be located with certainty

    @property
    def unit(self) -> str:
        return self.identity.unit

    @property
    def values(self) -> dict[str, float]:
        return {fid: p.value for fid, p in self.parsed.items()}


def read_unit(path: Path, form: Form | None = None, name: str | None = None) -> UnitReport:
    """Read one returned file; raises FileProblem when it is no readable report."""
    opened = open_returned(Path(path))
    return read_opened(opened, name or Path(path).name, form or load_form())


def read_opened(opened: Opened, name: str, form: Form) -> UnitReport:
    if opened.format not in (Format.XLSX, Format.XLS, Format.ODS):
        raise FileProblem("FILE_NOT_WORKBOOK", _not_workbook_message(opened.format))
    grids = _grids(opened.data, form)
    report = read_grids(grids, name, form)
    report.sha256 = opened.sha256
    return report


def _not_workbook_message(fmt: Format) -> str:
    if fmt == Format.DOCX:
        return "这是 Word 文档，不是年报 Excel 模板。请填写下发的 Excel 模板后报送。"
    return "这不是年报 Excel 模板，无法读取。"


def _grids(data: bytes, form: Form) -> dict[str, Grid]:
    try:
        wb = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        wanted = {form.front_sheet, form.meta_sheet, *(t.sheet for t in form.tables)}
        names = wb.sheet_names
        pick = [n for n in names if n in wanted] or names
        return {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in pick}
    except Exception as exc:  # calamine raises several error types for broken content
        raise FileProblem(
            "FILE_CORRUPT",
            "文件内容无法解析（可能已损坏，或是在线表格导出的非标准文件）。"
            "请用 Excel 或 WPS 打开后另存为 .xlsx 再报送。",
        ) from exc


def read_grids(grids: dict[str, Grid], name: str, form: Form) -> UnitReport:
    lay = layout_for(form)
    report = UnitReport(name, Identity())
    located = [_locate(grids, t, form, lay) for t in form.tables]
    report.identity = _identity(grids, form, lay, report, located)
    for loc in located:
        _read_table(grids, loc, form, lay, report)
    report.texts = _read_texts(grids.get(form.front_sheet, []), lay)
    return report


def _locate(grids: dict[str, Grid], table, form: Form, lay: Layout) -> tuple[str, Located]:
    if table.sheet in grids:
        return table.sheet, locate_table(grids[table.sheet], table, form, lay)
    for sheet, grid in grids.items():
        loc = locate_table(grid, table, form, lay)
        if loc.status != UNCERTAIN:
            return sheet, loc
    return "", locate_table([], table, form, lay)


def _identity(
    grids: dict[str, Grid],
    form: Form,
    lay: Layout,
    report: UnitReport,
    located: list[tuple[str, Located]],
) -> Identity:
    meta = {str(r[0]): str(r[1]) for r in grids.get(form.meta_sheet, []) if len(r) > 1 and r[0]}
    if meta.get("form_id"):
        if meta["form_id"] != form.id:
            raise FileProblem(
                "FILE_OTHER_FORM", "这是其他报表的模板，不是政府信息公开工作年度报告。"
            )
        return _identity_from_meta(meta)
    if all(loc.status == UNCERTAIN for _, loc in located):
        raise FileProblem(
            "FILE_NOT_FORM",
            "文件中找不到年报的表二、表三、表四，不是年报模板。请使用下发的模板填写。",
        )
    ident = _identity_from_title(grids.get(form.front_sheet, []), lay)
    report.issues.append(
        Issue(
            "META_MISSING",
            HINT,
            "文件缺少模板标识（可能是把表格复制到了新工作簿），"
            f"已根据标题和填报单位识别为「{ident.unit or '未知单位'}」"
            f"{ident.year or ''}{'年度' if ident.year else ''}，请核实。",
            sheet=form.front_sheet,
        )
    )
    return ident


def _identity_from_meta(meta: dict[str, str]) -> Identity:
    year = meta.get("year", "")
    clean = {k: ("" if v == "-" else v) for k, v in meta.items()}
    return Identity(
        clean.get("form_id", ""),
        clean.get("form_version", ""),
        int(float(year)) if re.fullmatch(r"\d{4}(\.0)?", year) else None,
        clean.get("unit", ""),
        clean.get("unit_code", ""),
        clean.get("category", ""),
        clean.get("parent", ""),
        clean.get("template_id", ""),
        clean.get("kind", "") or "unit",
    )


def _identity_from_title(grid: Grid, lay: Layout) -> Identity:
    title = str(at(grid, lay.title.row, lay.title.col) or "") if lay.title else ""
    match = TITLE.match(norm(title))
    unit_cell = lay.texts["unit"].cell
    unit = str(at(grid, unit_cell.row, unit_cell.col) or "").strip()
    year = int(match.group("year")) if match else None
    if not unit and match:
        unit = match.group("unit")
    return Identity(year=year, unit=unit, source="title")


def _read_table(
    grids: dict[str, Grid], found: tuple[str, Located], form: Form, lay: Layout, report: UnitReport
) -> None:
    sheet, loc = found
    grid = grids.get(sheet, [])
    if loc.status != EXACT:
        report.issues.append(_layout_issue(loc, sheet))
    if loc.status == UNCERTAIN:
        report.readable = False
        return
    for fid, (r, c) in loc.cells.items():
        value = at(grid, r, c)
        report.cells[fid] = f"{sheet}!{lay.fields[fid].__class__(sheet, r, c).a1}"
        if form.by_id[fid].is_total:
            stored = parse_number(value)
            if stored.status == "ok":
                report.stored[fid] = stored.value
        else:
            report.parsed[fid] = parse_number(value)


def _layout_issue(loc: Located, sheet: str) -> Issue:
    cells = "、".join(f"{d.cell.a1}「{d.text}」" for d in loc.differing[:5])
    more = f"等 {len(loc.differing)} 处" if len(loc.differing) > 5 else ""
    if loc.status == UNCERTAIN:
        missing = "、".join(f"「{m}」" for m in loc.missing[:5]) or cells
        return Issue(
            "LAYOUT_UNCERTAIN",
            "错误",
            f"{loc.table.short}的格式被改动，无法确定数字所在单元格（找不到 {missing}），"
            "未读取该表数字。请使用下发的模板重新填写。",
            sheet=sheet or loc.table.sheet,
        )
    return Issue(
        "TEMPLATE_MODIFIED",
        HINT,
        f"模板被修改：{loc.table.short}的表头或行列与模板不一致（{cells}{more}），"
        "已按官方标签定位读取，请核实。",
        sheet=sheet,
    )


def _read_texts(grid: Grid, lay: Layout) -> dict[str, str]:
    texts: dict[str, str] = {}
    for tid, tc in lay.texts.items():
        value = at(grid, tc.cell.row, tc.cell.col)
        texts[tid] = "" if value is None else str(value).strip()
    return texts
