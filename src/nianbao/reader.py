"""Returned workbook → the figures of one unit (the only place that parses workbooks)."""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import python_calamine as calamine

from nianbao import office
from nianbao.files import FileProblem, Format, Opened, open_bytes, open_returned
from nianbao.form import Form, Layout, Table, layout_for, load_form
from nianbao.form.layout import a1
from nianbao.formula_check import formula_changes
from nianbao.integrity import identity_from_custom, read_signals
from nianbao.issues import ERROR, HINT, Issue
from nianbao.locate import (
    EXACT,
    UNCERTAIN,
    Grid,
    Located,
    at,
    locate_table,
    norm,
    table_region,
    text_cells,
)
from nianbao.numbers import Parsed, parse_number
from nianbao.prolog import reject_doctype

MAX_SHEETS = 30  # a report has five; more is a workbook that is not a report
_OFFICE_KINDS = {Format.HTML: "网页（HTML）", Format.XML2003: "Excel 2003 XML"}


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
    members: tuple[str, ...] = ()  # for a summary: the units it covers


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
    exact_tables: set[str] = field(default_factory=set)  # tables found at the template's cells
    # (form, parsed, form.compute(values)): kept for the gate, the rules and the summary
    _computed: tuple[tuple[str, str], dict[str, Parsed], dict[str, float]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def unit(self) -> str:
        return self.identity.unit

    @property
    def values(self) -> dict[str, float]:
        return {fid: p.value for fid, p in self.parsed.items()}

    def computed(self, form: Form) -> dict[str, float]:
        """form.compute(self.values), once: a report is not changed after reading (read only).

        Assigning another `parsed` dict (or asking with another form) computes afresh.
        """
        key, cached = (form.id, form.version), self._computed
        if cached is None or cached[0] != key or cached[1] is not self.parsed:
            cached = self._computed = (key, self.parsed, form.compute(self.values))
        return cached[2]


def read_unit(path: Path, form: Form | None = None, name: str | None = None) -> UnitReport:
    """Read one returned file; raises FileProblem when it is no readable report."""
    opened = open_returned(Path(path))
    return read_opened(opened, name or Path(path).name, form or load_form())


def read_opened(opened: Opened, name: str, form: Form) -> UnitReport:
    """Read an opened file: a workbook, a published report (.docx/.html), or a web "xls"."""
    if opened.format in (Format.DOCX, Format.HTML):
        from nianbao.published import looks_published, report_from_published  # import cycle

        if looks_published(opened, form):
            return report_from_published(opened, name, form)
    data = _workbook_bytes(opened)
    native = opened.format == Format.XLSX  # a converted web "xls" has no formulas to compare
    report = read_grids(
        _grids(data, form), name, form, custom=_custom_properties(data, form, native)
    )
    report.sha256 = opened.sha256
    from_template = report.identity.source in ("meta", "custom")
    if native and from_template and _totals_in_doubt(report, form):
        report.issues += formula_changes(data, form, report.exact_tables)
    return report


def _custom_properties(data: bytes, form: Form, native: bool) -> Callable[[], dict[str, str]]:
    """Read lazily: only a file whose hidden identity sheet is gone needs its properties."""
    return (lambda: read_signals(data, form).custom) if native else dict


def _totals_in_doubt(report: UnitReport, form: Form) -> bool:
    """Whether to compare the formulas: a total without a stored result, or a stored result
    that is not the sum of its parts. Excel, WPS and LibreOffice store every result, so an
    untouched file is not re-read; a changed formula always leaves one of these traces."""
    computed = report.computed(form)
    for f in form.totals:
        if f.table not in report.exact_tables:
            continue
        stored = report.stored.get(f.id)
        if stored is None or abs(stored - computed[f.id]) > 1e-6:
            return True
    return False


def _workbook_bytes(opened: Opened) -> bytes:
    """Bytes calamine can read: xlsx/xls/ods as they are, web formats converted first."""
    if opened.format in _OFFICE_KINDS:
        return _through_office(opened)
    if opened.format not in (Format.XLSX, Format.XLS, Format.ODS):
        raise FileProblem("FILE_NOT_WORKBOOK", _not_workbook_message(opened.format))
    if opened.format != Format.XLS:
        reject_doctype(opened.data, opened.zip_infos)
    return opened.data


def _not_workbook_message(fmt: Format) -> str:
    if fmt == Format.DOCX:
        return "这是 Word 文档，不是年报 Excel 模板。请填写下发的 Excel 模板后报送。"
    if fmt == Format.EML:
        return "这是邮件文件（.eml），不是 Excel 工作簿。请保存邮件中的 Excel 附件后再报送。"
    return "这不是年报 Excel 模板，无法读取。"


def _through_office(opened: Opened) -> bytes:
    """Convert an HTML or 2003-XML "xls" to xlsx with LibreOffice; one message otherwise."""
    kind = _OFFICE_KINDS[opened.format]
    advice = "请在 Excel 或 WPS 中打开后另存为 .xlsx 再报送。"
    if office.find_soffice() is None:
        raise FileProblem(
            "FILE_NEEDS_OFFICE",
            f"这是另存为{kind}格式的“xls”文件，不是真正的 Excel 工作簿；"
            f"本机未安装 LibreOffice，无法读取。{advice}",
        )
    with tempfile.TemporaryDirectory(prefix="nianbao-read-") as tmp:
        src = Path(tmp) / "returned.xls"  # named .xls so that LibreOffice opens it in Calc
        src.write_bytes(opened.data)
        try:
            converted = open_bytes(office.convert(src, "xlsx", Path(tmp) / "out").read_bytes())
        except (office.OfficeError, FileProblem) as exc:
            raise FileProblem(
                "FILE_CORRUPT", f"这是另存为{kind}格式的“xls”文件，转换失败，无法读取。{advice}"
            ) from exc
    return _workbook_bytes(converted)


def _grids(data: bytes, form: Form) -> dict[str, Grid]:
    try:
        wb = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        wanted = {form.front_sheet, form.meta_sheet, *(t.sheet for t in form.tables)}
        names = wb.sheet_names
        tables_there = all(t.sheet in names for t in form.tables)
        pick = [n for n in names if n in wanted] if tables_there else names[:MAX_SHEETS]
        return {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in pick}
    except Exception as exc:  # calamine raises several error types for broken content
        raise FileProblem(
            "FILE_CORRUPT",
            "文件内容无法解析（可能已损坏，或是在线表格导出的非标准文件）。"
            "请用 Excel 或 WPS 打开后另存为 .xlsx 再报送。",
        ) from exc


def read_grids(
    grids: dict[str, Grid],
    name: str,
    form: Form,
    custom: Callable[[], dict[str, str]] | None = None,
) -> UnitReport:
    """The report in sheet grids: tables located by label, identity, figures and texts."""
    lay = layout_for(form)
    report = UnitReport(name, Identity())
    located = [_locate(grids, t, form, lay) for t in form.tables]
    report.exact_tables = {
        loc.table.id for sheet, loc in located if loc.status == EXACT and sheet == loc.table.sheet
    }
    texts = _read_texts(grids, form, lay)
    report.identity = _identity(grids, form, lay, report, located, texts, custom or dict)
    for loc in located:
        _read_table(grids, loc, form, lay, report)
    report.texts = texts
    return report


def _locate(grids: dict[str, Grid], table: Table, form: Form, lay: Layout) -> tuple[str, Located]:
    """The table on its own sheet, else on whichever sheet its labels are certain."""
    if table.sheet in grids:
        return table.sheet, locate_table(grids[table.sheet], table, form, lay)
    first = None
    for sheet, grid in grids.items():
        if sheet == form.meta_sheet:
            continue
        loc = locate_table(table_region(grid, table, form), table, form, lay)
        if loc.status != UNCERTAIN:
            return sheet, loc
        first = first or (sheet, loc)
    return first or ("", locate_table([], table, form, lay))


def _identity(
    grids: dict[str, Grid],
    form: Form,
    lay: Layout,
    report: UnitReport,
    located: list[tuple[str, Located]],
    texts: dict[str, str],
    custom: Callable[[], dict[str, str]],
) -> Identity:
    meta = {str(r[0]): str(r[1]) for r in grids.get(form.meta_sheet, []) if len(r) > 1 and r[0]}
    if meta.get("form_id"):
        _check_same_form(meta, form)
        return _identity_from_meta(meta)
    from_custom = identity_from_custom(custom())
    if from_custom:  # the hidden sheet was deleted, the document properties survived
        _check_same_form(from_custom, form)
        ident = replace(_identity_from_meta(from_custom), source="custom")
        report.issues.append(
            Issue(
                "META_MISSING",
                HINT,
                f"模板的隐藏标识页已被删除，已根据文档属性识别为「{ident.unit}」"
                f"{ident.year or ''}{'年度' if ident.year else ''}，请核实。",
                sheet=form.front_sheet,
            )
        )
        return ident
    if all(loc.status == UNCERTAIN for _, loc in located):
        raise FileProblem(
            "FILE_NOT_FORM",
            f"文件中找不到年报的{'、'.join(t.short for t in form.tables)}，"
            f"不是{form.name}模板。请使用下发的模板填写。",
        )
    ident = _identity_from_title(grids, form, texts.get("unit", ""))
    report.issues.append(_meta_missing(ident, form, lay))
    return ident


def _check_same_form(meta: dict[str, str], form: Form) -> None:
    """A template of another report, or of another revision of this one, is refused."""
    if meta["form_id"] != form.id:
        raise FileProblem("FILE_OTHER_FORM", f"这是其他报表的模板，不是{form.name}。")
    version = meta.get("form_version", "")
    if version and version != form.version:
        raise FileProblem(
            "FILE_OTHER_FORM",
            f"这是{version}版格式的{form.name}模板，本次使用的是{form.version}版格式"
            f"（{form.basis}）。请使用本次下发的模板重新填写。",
        )


def _meta_missing(ident: Identity, form: Form, lay: Layout) -> Issue:
    year = f"{ident.year}年度" if ident.year else "（年度不明）"
    return Issue(
        "META_MISSING",
        HINT,
        "文件缺少模板标识（可能是把表格复制到了新工作簿），"
        f"已根据标题和填报单位识别为「{ident.unit or '未知单位'}」{year}，请核实。",
        sheet=form.front_sheet,
        cell=lay.title.a1 if lay.title else "",
    )


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
        members=tuple(x for x in clean.get("members", "").split("\n") if x),
    )


def title_pattern(form: Form) -> re.Pattern[str]:
    """The declared title «{unit}{year}年…» as a regex over normalised text."""
    parts = re.split(r"(\{unit\}|\{year\})", norm(form.title))
    groups = {"{unit}": "(?P<unit>.*?)", "{year}": "(?P<year>\\d{4})"}
    return re.compile("^" + "".join(groups.get(p, re.escape(p)) for p in parts) + "$")


def _identity_from_title(grids: dict[str, Grid], form: Form, unit: str) -> Identity:
    """Unit and year from the title (wherever it stands) and the 填报单位 cell."""
    pattern = title_pattern(form)
    for grid in grids.values():
        for row in grid[:60]:
            for value in row:
                match = pattern.match(norm(value)) if isinstance(value, str) else None
                if match:
                    unit = unit or match.group("unit")
                    return Identity(year=int(match.group("year")), unit=unit, source="title")
    return Identity(unit=unit, source="title")


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
    totals, cells, parsed = _total_ids(form), report.cells, report.parsed
    for fid, (r, c) in loc.cells.items():
        row = grid[r] if r < len(grid) else ()
        value = row[c] if c < len(row) else None
        cells[fid] = _ref(sheet, r, c)
        if fid in totals:
            stored = parse_number(value)
            if stored.status == "ok":
                report.stored[fid] = stored.value
        else:
            parsed[fid] = parse_number(value)


@cache  # the same few sheets and cells in every file: one shared string each
def _ref(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{a1(row, col)}"


@cache
def _total_ids(form: Form) -> frozenset[str]:
    return frozenset(f.id for f in form.totals)


def _layout_issue(loc: Located, sheet: str) -> Issue:
    cells = "、".join(f"{d.cell.a1}「{d.text}」" for d in loc.differing[:5])
    more = f"等 {len(loc.differing)} 处" if len(loc.differing) > 5 else ""
    first = loc.differing[0].cell.a1 if loc.differing else ""
    if loc.status == UNCERTAIN:
        missing = "、".join(f"「{m}」" for m in loc.missing[:5]) or cells
        return Issue(
            "LAYOUT_UNCERTAIN",
            ERROR,
            f"{loc.table.short}的格式被改动，无法确定数字所在单元格（找不到 {missing}），"
            "未读取该表数字。请使用下发的模板重新填写。",
            sheet=sheet or loc.table.sheet,
            cell=first,
        )
    return Issue(
        "TEMPLATE_MODIFIED",
        HINT,
        f"模板被修改：{loc.table.short}的表头或行列与模板不一致（{cells}{more}），"
        "已按官方标签定位读取，请核实。",
        sheet=sheet,
        cell=first,
    )


def _read_texts(grids: dict[str, Grid], form: Form, lay: Layout) -> dict[str, str]:
    """Every header and text section, found at its place or by its label; absent = ""."""
    found = text_cells(grids, form, lay)
    texts: dict[str, str] = {}
    for tid in lay.texts:
        sheet, r, c = found.get(tid, ("", -1, -1))
        value = at(grids.get(sheet, []), r, c)
        texts[tid] = "" if value is None else _text(value)
    return texts


def _text(value: object) -> str:
    """Cell text; a phone number typed as a number reads 9721234567, not 9721234567.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
