"""Form → locked workbook that a unit fills in (the only place that knows how a template looks)."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from nianbao import __version__
from nianbao.form import Form, Layout, layout_for, load_form
from nianbao.form.layout import Cell, Check, SheetSpec, quote_sheet
from nianbao.formulas import (
    FAIL,
    PASS,
    check_formula,
    defined_name,
    overall_formula,
    total_formula,
)
from nianbao.template_styles import Styles

TEXT_ROW_HEIGHT = 22


@dataclass(frozen=True)
class UnitInfo:
    """Who a template is for (from the roster)."""

    name: str = ""
    code: str = ""
    parent: str = ""
    category: str = ""
    contact: str = ""
    email: str = ""


@dataclass(frozen=True)
class Contents:
    """What a report workbook holds besides its labels (a template holds nothing)."""

    values: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    locked: bool = True


def meta_fields(form: Form, year: int, unit: UnitInfo, template_id: str) -> dict[str, str]:
    """The identity a template carries (hidden sheet and custom document properties)."""
    return {
        "form_id": form.id,
        "form_version": form.version,
        "year": str(year),
        "unit": unit.name,
        "unit_code": unit.code,
        "category": unit.category,
        "parent": unit.parent,
        "template_id": template_id,
        "generator": f"nianbao {__version__}",
    }


def template_bytes(
    year: int,
    unit: UnitInfo | None = None,
    *,
    form: Form | None = None,
    password: str = "",
    template_id: str | None = None,
) -> bytes:
    """The template workbook for one unit, as .xlsx bytes."""
    form = form or load_form()
    unit = unit or UnitInfo()
    buf = io.BytesIO()
    wb = LockedWorkbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    wb.structure_lock = _protection_attrs(password)
    meta = meta_fields(form, year, unit, template_id or uuid.uuid4().hex)
    build_report_sheets(wb, form, layout_for(form), year, unit, meta, password, Contents())
    wb.close()
    return buf.getvalue()


class LockedWorkbook(xlsxwriter.Workbook):
    """A workbook written with structure protection (XlsxWriter has no option for it).

    The <workbookProtection> element follows <workbookPr>, where the schema wants it: the
    same bytes lock_structure() puts there, without unpacking and re-deflating every part.
    """

    structure_lock: bytes = b""

    def _write_workbook_pr(self) -> None:
        super()._write_workbook_pr()
        if self.structure_lock:
            self.fh.write("<workbookProtection" + self.structure_lock.decode() + "/>")


def write_template(path: Path, year: int, unit: UnitInfo | None = None, **kwargs: object) -> Path:
    """Write a template atomically to `path`."""
    from nianbao.atomic import write_bytes_atomic

    write_bytes_atomic(path, template_bytes(year, unit, **kwargs))  # type: ignore[arg-type]  # passed through as given
    return path


def build_report_sheets(
    wb: Workbook,
    form: Form,
    lay: Layout,
    year: int,
    unit: UnitInfo,
    meta: dict[str, str],
    password: str,
    contents: Contents,
) -> None:
    """The sheets of a report (front, tables, identity); a template when `contents` is empty."""
    styles = Styles(wb)
    computed = form.compute(contents.values)
    sheets = {spec.name: wb.add_worksheet(spec.name) for spec in lay.sheets}
    for spec in lay.sheets:
        _setup_sheet(sheets[spec.name], spec, whole_height=spec.name == form.front_sheet)
    _write_labels(sheets, lay, styles)
    _write_front(sheets[form.front_sheet], form, lay, styles, year, unit, contents)
    _write_fields(sheets, form, lay, styles, contents, computed)
    _write_checks(sheets, lay, styles, computed)
    _write_meta(wb, form, meta, password)
    _write_names(wb, form, lay)
    for ws in sheets.values():
        if contents.locked:
            _protect(ws, password)
    wb.set_calc_mode("auto")
    wb.set_properties(
        {
            "title": form.title_for(unit.name, year),
            "subject": form.name,
            "comments": f"{form.basis}；由 nianbao 生成",
        }
    )
    for key, value in meta.items():
        if len(value) <= 255:  # Excel's limit; a summary's member list stays on the hidden sheet
            wb.set_custom_property(f"nianbao_{key}", value or "-")


def _setup_sheet(ws: Worksheet, spec: SheetSpec, whole_height: bool) -> None:
    """Widths, heights and printing; a sheet printed `whole_height` may run over pages."""
    for col, width in enumerate(spec.widths):
        ws.set_column(col, col, width)
    for row, height in spec.heights.items():
        ws.set_row(row, height)
    ws.set_paper(9)
    ws.set_landscape() if spec.landscape else ws.set_portrait()
    ws.fit_to_pages(1, 0 if whole_height else 1)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.repeat_rows(*spec.repeat_rows)
    ws.hide_gridlines(2)
    ws.set_footer("&C第 &P 页，共 &N 页")


def _write_labels(sheets: dict[str, Worksheet], lay: Layout, styles: Styles) -> None:
    for lab in lay.labels:
        ws, fmt = sheets[lab.cell.sheet], styles.for_label(lab.role)
        if lab.merged:
            ws.merge_range(lab.cell.row, lab.cell.col, lab.last_row, lab.last_col, lab.text, fmt)
        else:
            ws.write_string(lab.cell.row, lab.cell.col, lab.text, fmt)


def _write_front(
    ws: Worksheet,
    form: Form,
    lay: Layout,
    styles: Styles,
    year: int,
    unit: UnitInfo,
    contents: Contents,
) -> None:
    assert lay.title is not None and lay.overall_check is not None
    last = lay.sheet(form.front_sheet).n_cols - 1
    ws.merge_range(0, 0, 0, last, form.title_for(unit.name or "（填报单位）", year), styles.title)
    for text in lay.texts.values():
        value = unit.name if text.id == "unit" else contents.texts.get(text.id, "")
        # A blank, not "": an empty string is a value (COUNTA counts it, ISBLANK is false).
        ws.merge_range(
            text.cell.row, text.cell.col, text.cell.row, text.last_col, None, styles.text_input
        )
        if value:
            ws.write_string(text.cell.row, text.cell.col, value, styles.text_input)
    ws.merge_range(
        lay.overall_check.row, lay.overall_check.col, lay.overall_check.row, last, "", styles.check
    )
    passed = all(_check_passes(c, form.compute(contents.values)) for c in lay.checks)
    ws.write_formula(
        lay.overall_check.row,
        lay.overall_check.col,
        overall_formula(lay),
        styles.check,
        PASS if passed else FAIL,
    )
    _add_check_highlight(ws, lay.overall_check, lay.overall_check.col, last, styles)


def _write_fields(
    sheets: dict[str, Worksheet],
    form: Form,
    lay: Layout,
    styles: Styles,
    contents: Contents,
    computed: dict[str, float],
) -> None:
    for f in form.fields:
        cell = lay.fields[f.id]
        ws = sheets[cell.sheet]
        if f.is_total:
            formula = total_formula(lay, f.id)
            ws.write_formula(cell.row, cell.col, formula, styles.total, computed[f.id])
            continue
        if f.id in contents.values:
            ws.write_number(cell.row, cell.col, contents.values[f.id], styles.input_for(f.kind))
        else:
            ws.write_blank(cell.row, cell.col, None, styles.input_for(f.kind))
        kind = form.kinds[f.kind]
        ws.data_validation(
            cell.row,
            cell.col,
            cell.row,
            cell.col,
            {
                "validate": "integer" if kind.whole else "decimal",
                "criteria": ">=",
                "value": kind.minimum,
                "error_title": kind.validation_title,
                "error_message": kind.validation_message,
                "input_title": kind.label,
                "input_message": kind.validation_message,
            },
        )


def _check_passes(check: Check, computed: dict[str, float]) -> bool:
    lhs = sum(computed[f] for f in check.lhs)
    return abs(lhs - sum(computed[f] for f in check.rhs)) < 1e-9


def _write_checks(
    sheets: dict[str, Worksheet], lay: Layout, styles: Styles, computed: dict[str, float]
) -> None:
    for check in lay.checks:
        ws = sheets[check.cell.sheet]
        cached = PASS if _check_passes(check, computed) else FAIL
        ws.write_formula(
            check.cell.row, check.cell.col, check_formula(lay, check), styles.check, cached
        )
        _add_check_highlight(ws, check.cell, check.cell.col, check.cell.col, styles)


def _add_check_highlight(ws: Worksheet, cell: Cell, first: int, last: int, styles: Styles) -> None:
    for value, fmt in ((FAIL, styles.fail), (PASS, styles.ok)):
        ws.conditional_format(
            cell.row,
            first,
            cell.row,
            last,
            {"type": "cell", "criteria": "==", "value": f'"{value}"', "format": fmt},
        )


def _write_meta(wb: Workbook, form: Form, meta: dict[str, str], password: str) -> None:
    ws = wb.add_worksheet(form.meta_sheet)
    for row, (key, value) in enumerate(meta.items()):
        ws.write_string(row, 0, key)
        ws.write_string(row, 1, value)
    ws.very_hidden()
    _protect(ws, password)


def _write_names(wb: Workbook, form: Form, lay: Layout) -> None:
    for f in form.fields:
        cell = lay.fields[f.id]
        wb.define_name(defined_name(f.id), f"={quote_sheet(cell.sheet)}!${_abs(cell)}")
    for text in lay.texts.values():
        wb.define_name(
            defined_name("text." + text.id), f"={quote_sheet(text.cell.sheet)}!${_abs(text.cell)}"
        )


def _abs(cell: Cell) -> str:
    return re.sub(r"^([A-Z]+)(\d+)$", r"\1$\2", cell.a1)


def _protect(ws: Worksheet, password: str) -> None:
    ws.protect(
        password,
        {
            "select_locked_cells": True,
            "select_unlocked_cells": True,
            "format_rows": True,
            "format_columns": True,
        },
    )


_WORKBOOK_PR = re.compile(rb"(<workbookPr\b[^>]*/>)")


def lock_structure(xlsx: bytes, password: str = "") -> bytes:
    """Add workbook structure protection (XlsxWriter cannot) by rewriting xl/workbook.xml."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    attrs = _protection_attrs(password)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/workbook.xml":
                data, n = _WORKBOOK_PR.subn(rb"\1<workbookProtection" + attrs + b"/>", data, 1)
                if n != 1:
                    raise RuntimeError("workbook.xml without workbookPr")
            dst.writestr(info, data)
    return out.getvalue()


def _protection_attrs(password: str) -> bytes:
    attrs = b' lockStructure="1"'
    if password:
        attrs += b' workbookPassword="' + _legacy_hash(password).encode() + b'"'
    return attrs


def _legacy_hash(password: str) -> str:
    """Excel's 16-bit legacy password hash (the same XlsxWriter uses for sheets)."""
    h = 0
    for i, ch in enumerate(password, start=1):
        v = ord(ch) << i
        h ^= ((v >> 15) | v) & 0x7FFF
    h ^= len(password) ^ 0xCE4B
    return f"{h:X}"
