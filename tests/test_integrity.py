"""A returned template: its identity signals (integrity.py), its formulas (formula_check.py)."""

from __future__ import annotations

import io
import random
import re
import zipfile

import openpyxl
import pytest

from conftest import consistent_figures, fill
from nianbao import office
from nianbao.form import Form, Layout
from nianbao.formula_check import MAX_REPORTED, formula_changes
from nianbao.formulas import check_formula, defined_name, sum_formula
from nianbao.integrity import (
    IDENTITY_KEYS,
    Signals,
    expected_names,
    identity_from_custom,
    read_signals,
)
from nianbao.template import UnitInfo, template_bytes

UNIT = UnitInfo("群科镇", "630202101", category="乡镇")


@pytest.fixture(scope="module")
def template() -> bytes:
    return template_bytes(2025, UNIT)


@pytest.fixture(scope="module")
def all_tables(form: Form) -> set[str]:
    return {t.id for t in form.tables}


def edited(data: bytes, change) -> bytes:
    """The workbook after `change(wb)` and an openpyxl save, as a user with openpyxl would."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    change(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rewritten(data: bytes, part: str, change) -> bytes:
    """The zip with one part's text passed through `change` (tampering below any library)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == part:
                body = change(body.decode("utf-8")).encode("utf-8")
            dst.writestr(info, body)
    return out.getvalue()


def sheet_part(data: bytes, sheet: str) -> str:
    """XlsxWriter and openpyxl number sheet parts in workbook order."""
    names = openpyxl.load_workbook(io.BytesIO(data), read_only=True).sheetnames
    return f"xl/worksheets/sheet{names.index(sheet) + 1}.xml"


def with_formula(data: bytes, sheet: str, addr: str, f_xml: str) -> bytes:
    """Replace the <f> element of one cell in the sheet XML."""

    def change(xml: str) -> str:
        new, n = re.subn(rf'(<c r="{addr}"[^>]*>)<f>[^<]*</f>', rf"\g<1>{f_xml}", xml)
        assert n == 1, f"{addr} has no formula to replace"
        return new

    return rewritten(data, sheet_part(data, sheet), change)


def first_total(form: Form, table: str = "t3") -> str:
    return next(f.id for f in form.fields if f.is_total and f.table == table)


def row_total(form: Form, layout: Layout) -> str:
    """A total summed along a row (several input columns), so a shorter range exists."""
    return next(
        f.id
        for f in form.fields
        if f.is_total and len({layout.fields[p].row for p in f.sum_of}) == 1 and len(f.sum_of) > 2
    )


def test_fresh_template_has_every_signal_and_no_change(form, layout, template, all_tables):
    signals = read_signals(template, form)
    assert signals.meta and signals.meta_state == "veryHidden"
    assert signals.custom["form_id"] == form.id
    assert signals.custom["unit"] == UNIT.name and signals.custom["unit_code"] == UNIT.code
    assert signals.names == len(form.fields) + len(layout.texts)  # inputs, totals, texts
    assert not signals.wps
    assert formula_changes(template, form, all_tables) == []


def test_filled_return_has_no_change(form, layout, template, all_tables, tmp_path):
    values = consistent_figures(form, random.Random(3))
    data = fill(template, tmp_path / "r.xlsx", layout, values).read_bytes()
    assert formula_changes(data, form, all_tables) == []
    assert read_signals(data, form).names == len(expected_names(form))


def test_total_typed_over_is_named_in_words(form, layout, template, all_tables):
    fid = first_total(form)
    cell = layout.fields[fid]
    data = edited(template, lambda wb: wb[cell.sheet].cell(cell.row + 1, cell.col + 1, 12))
    issues = formula_changes(data, form, all_tables)
    assert [(i.code, i.severity, i.sheet, i.cell) for i in issues] == [
        ("TEMPLATE_MODIFIED", "提示", cell.sheet, cell.a1)
    ]
    expected = sum_formula([layout.fields[p] for p in form.by_id[fid].sum_of])
    assert layout.describe(fid) in issues[0].message
    assert f"应为 {expected}，现为 12）" in issues[0].message


def test_total_cleared_is_reported_as_empty(form, layout, template, all_tables):
    fid = first_total(form, "t4")
    cell = layout.fields[fid]

    def clear(wb):
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1).value = None

    [issue] = formula_changes(edited(template, clear), form, all_tables)
    assert issue.cell == cell.a1 and "现为空" in issue.message


def test_check_formula_replaced_by_constant(form, layout, template, all_tables):
    check = layout.checks[-1]
    c = check.cell
    data = edited(template, lambda wb: wb[c.sheet].cell(c.row + 1, c.col + 1, "通过"))
    [issue] = formula_changes(data, form, all_tables)
    assert (issue.sheet, issue.cell) == (c.sheet, c.a1)
    assert f"「{check.column.label}」列（{c.a1}）" in issue.message
    assert check_formula(layout, check) in issue.message and "现为「通过」" in issue.message


def test_overall_check_replaced(form, layout, template, all_tables):
    c = layout.overall_check
    data = edited(template, lambda wb: wb[c.sheet].cell(c.row + 1, c.col + 1, "通过"))
    [issue] = formula_changes(data, form, all_tables)
    assert (issue.sheet, issue.cell) == (c.sheet, c.a1) and "校验结果" in issue.message


def test_overall_check_is_compared_only_under_its_label(form, layout, template, all_tables):
    c = layout.overall_check

    def move(wb):
        ws = wb[c.sheet]
        ws.cell(c.row + 1, 1).value = "备注"  # the front sheet rearranged: B7 is no check
        ws.cell(c.row + 1, c.col + 1).value = 123456789

    assert formula_changes(edited(template, move), form, all_tables) == []


def test_cells_without_addresses_are_not_guessed(form, layout, template, all_tables):
    """The r attribute is optional: without it we cannot tell which cell is the total."""
    cell = layout.fields[first_total(form)]
    data = rewritten(
        template, sheet_part(template, cell.sheet), lambda x: re.sub(r'<c r="[A-Z]+\d+"', "<c", x)
    )
    assert formula_changes(data, form, all_tables) == []


def test_shorter_sum_range_is_reported(form, layout, template, all_tables):
    fid = row_total(form, layout)
    cell = layout.fields[fid]
    shorter = sum_formula([layout.fields[p] for p in form.by_id[fid].sum_of[:-1]])
    data = edited(template, lambda wb: wb[cell.sheet].cell(cell.row + 1, cell.col + 1, shorter))
    [issue] = formula_changes(data, form, all_tables)
    assert issue.cell == cell.a1 and f"现为 {shorter}" in issue.message


def test_tables_not_read_exactly_are_not_compared(form, layout, template, all_tables):
    fid = first_total(form)
    cell = layout.fields[fid]
    data = edited(template, lambda wb: wb[cell.sheet].cell(cell.row + 1, cell.col + 1, 12))
    table = form.by_id[fid].table
    assert formula_changes(data, form, all_tables - {table}) == []


def test_many_changes_are_capped(form, layout, template, all_tables):
    totals = [layout.fields[f.id] for f in form.fields if f.is_total]
    assert len(totals) > MAX_REPORTED

    def overwrite(wb):
        for c in totals:
            wb[c.sheet].cell(c.row + 1, c.col + 1, 1)

    issues = formula_changes(edited(template, overwrite), form, all_tables)
    assert len(issues) == MAX_REPORTED
    assert f"另有 {len(totals) - MAX_REPORTED + 1} 个" in issues[-1].message


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda f, sheet: f.lower(),  # sum(d5:i5)
        lambda f, sheet: re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", f),  # absolute references
        lambda f, sheet: f.replace("(", "( ").replace(",", " , ").replace(")", " )"),
        lambda f, sheet: "=" + f,  # a leading = kept by some writers
        lambda f, sheet: f.replace("SUM(", "_xlfn.SUM("),
        lambda f, sheet: re.sub(r"\b([A-Z]+\d+)\b", rf"'{sheet}'!\1", f),  # own sheet named
        lambda f, sheet: re.sub(r"\b([A-Z]+\d+)\b", rf"{sheet}!\1", f),
    ],
)
def test_rewritten_formulas_are_not_changes(form, layout, template, all_tables, rewrite):
    fid = row_total(form, layout)
    cell = layout.fields[fid]
    formula = sum_formula([layout.fields[p] for p in form.by_id[fid].sum_of]).lstrip("=")
    new = rewrite(formula, cell.sheet).replace("&", "&amp;").replace("'", "&apos;")
    data = with_formula(template, cell.sheet, cell.a1, f"<f>{new}</f>")
    assert formula_changes(data, form, all_tables) == []


def test_sum_listing_each_cell_is_not_a_change(form, layout, template, all_tables):
    fid = row_total(form, layout)
    cell = layout.fields[fid]
    listed = ",".join(layout.fields[p].a1 for p in reversed(form.by_id[fid].sum_of))
    data = with_formula(template, cell.sheet, cell.a1, f"<f>SUM({listed})</f>")
    assert formula_changes(data, form, all_tables) == []


def test_shared_formulas_are_translated(form, layout, template, all_tables):
    """Excel writes a filled-down formula once: the other cells only refer to it."""
    column = [f.id for f in form.fields if f.is_total and f.table == "t3"]
    cells = [layout.fields[f] for f in column]
    same_col = [c for c in cells if c.col == cells[0].col][:3]
    first, *rest = same_col
    assert [c.row for c in rest] == [first.row + 1, first.row + 2]
    span = f"{first.a1}:{rest[-1].a1}"
    data = template
    formula = sum_formula([layout.fields[p] for p in form.by_id[column[0]].sum_of]).lstrip("=")
    data = with_formula(
        data, first.sheet, first.a1, f'<f t="shared" ref="{span}" si="0">{formula}</f>'
    )
    for c in rest:
        data = with_formula(data, c.sheet, c.a1, '<f t="shared" si="0"/>')
    assert formula_changes(data, form, all_tables) == []
    wrong = with_formula(
        template, first.sheet, first.a1, f'<f t="shared" ref="{span}" si="0">{formula}</f>'
    )
    # the master's formula copied to the next row's cell without its shift is a change
    wrong = with_formula(wrong, rest[0].sheet, rest[0].a1, f"<f>{formula}</f>")
    assert [i.cell for i in formula_changes(wrong, form, all_tables)] == [rest[0].a1]


def test_metadata_sheet_deleted_identity_from_custom(form, template):
    data = edited(template, lambda wb: wb.remove(wb[form.meta_sheet]))
    signals = read_signals(data, form)
    assert not signals.meta and signals.meta_state == ""
    ident = identity_from_custom(signals.custom)
    assert ident is not None and set(IDENTITY_KEYS) <= set(ident)
    assert (ident["form_id"], ident["unit"], ident["unit_code"], ident["year"]) == (
        form.id,
        UNIT.name,
        UNIT.code,
        "2025",
    )
    assert ident["parent"] == ""  # written as "-" because Excel drops empty properties


def test_identity_from_custom_needs_a_form_id():
    assert identity_from_custom({}) is None
    assert identity_from_custom({"unit": "群科镇"}) is None


def test_wps_property_is_detected(form, template):
    prop = (
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="99" '
        'name="KSOProductBuildVer"><vt:lpwstr>2052-12.1.0.16120</vt:lpwstr></property>'
    )
    data = rewritten(
        template,
        "docProps/custom.xml",
        lambda x: x.replace("</Properties>", prop + "</Properties>"),
    )
    assert read_signals(data, form).wps
    assert read_signals(data, form).custom["form_id"] == form.id


def test_moved_defined_name_is_not_counted(form, layout, template):
    fid = first_total(form)
    name = defined_name(fid)
    data = rewritten(
        template,
        "xl/workbook.xml",
        lambda x: re.sub(
            rf'(name="{name}">[^<]*\$)(\d+)<', lambda m: f"{m.group(1)}{int(m.group(2)) + 1}<", x
        ),
    )
    assert read_signals(data, form).names == len(expected_names(form)) - 1


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_garbage_gives_no_signals_and_no_changes(form, all_tables, data):
    assert read_signals(data, form) == Signals(False)
    assert formula_changes(data, form, all_tables) == []


def test_missing_parts_give_empty_signals(form, template, all_tables):
    src = zipfile.ZipFile(io.BytesIO(template))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in ("docProps/custom.xml", "xl/workbook.xml"):
                dst.writestr(info, src.read(info))
    data = out.getvalue()
    assert read_signals(data, form) == Signals(False)
    assert formula_changes(data, form, all_tables) == []


@pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_round_trip_keeps_identity_and_formulas(
    form, layout, template, all_tables, tmp_path
):
    values = consistent_figures(form, random.Random(5))
    src = fill(template, tmp_path / "returned.xlsx", layout, values)
    data = office.convert(src, "xlsx", tmp_path / "lo", recalc=True).read_bytes()
    assert formula_changes(data, form, all_tables) == []
    signals = read_signals(data, form)
    assert signals.meta and signals.meta_state == "hidden"  # no longer very hidden
    assert signals.custom["unit"] == UNIT.name and signals.custom["form_id"] == form.id
    assert signals.names == len(expected_names(form))
    # and a change made after the round trip is still seen through LibreOffice's markup
    fid = first_total(form)
    cell = layout.fields[fid]
    changed = rewritten(
        data,
        sheet_part(data, cell.sheet),
        lambda x: re.sub(rf'(<c r="{cell.a1}"[^>]*>)<f[^>]*>[^<]*</f>', r"\g<1>", x),
    )
    assert [i.cell for i in formula_changes(changed, form, all_tables)] == [cell.a1]
