"""The locked template: official labels, locking, validation, print setup, formulas, CLI.

The formulas are proven by LibreOffice really recalculating a filled template, not by reading
formula text. Every address comes from the layout, every label from the declaration.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell
from openpyxl.workbook.protection import hash_password
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from conftest import consistent_figures, fill, sample_texts
from nianbao.cli import app
from nianbao.form import Form, Layout
from nianbao.form.layout import Cell, a1
from nianbao.office import convert, find_soffice, recalculated_values
from nianbao.reader import read_unit
from nianbao.roster import read_roster
from nianbao.template import FAIL, PASS, UnitInfo, defined_name, template_bytes
from nianbao.templates_out import main as templates_out_main
from nianbao.templates_out import write_blank_template

YEAR = 2025
UNIT = UnitInfo("群科镇", "632127102", "化隆回族自治县人民政府", "乡镇", "韩秀英", "q@example.cn")
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CJK = re.compile(r"[\u4e00-\u9fff]")
needs_office = pytest.mark.skipif(
    find_soffice() is None, reason="未安装 LibreOffice（soffice 不在 PATH 上）"
)


@pytest.fixture(scope="module")
def data() -> bytes:
    return template_bytes(YEAR, UNIT, template_id="tpl-test-1")


@pytest.fixture(scope="module")
def wb(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.fixture(scope="module")
def cached(data: bytes) -> openpyxl.Workbook:
    """The stored formula results, as a viewer without a calculation engine shows them."""
    return openpyxl.load_workbook(io.BytesIO(data), data_only=True)


def value_at(wb: openpyxl.Workbook, cell: Cell) -> object:
    return wb[cell.sheet].cell(cell.row + 1, cell.col + 1).value


def table_sheets(form: Form) -> list[str]:
    return [t.sheet for t in form.tables]


def official_labels(form: Form) -> set[str]:
    """Every fixed text of tables 二、三、四 as the declaration states it."""
    texts: set[str] = set()
    for table in form.tables:
        texts.add(table.title)
        for block in table.blocks:
            texts.update(t for t in (block.header, block.corner) if t)
            for axis in (*block.rows, *block.columns):
                texts.update(axis.path)
    return texts


# ------------------------------------------------------------------ labels and layout


def test_layout_places_every_official_label(form: Form, layout: Layout) -> None:
    placed = {lab.text for lab in layout.labels if lab.cell.sheet in table_sheets(form)}
    assert official_labels(form) <= placed


def test_every_label_is_at_its_cell(form: Form, layout: Layout, wb: openpyxl.Workbook) -> None:
    wrong = [
        (lab.cell.ref, lab.text, value_at(wb, lab.cell))
        for lab in layout.labels
        if value_at(wb, lab.cell) != lab.text
    ]
    assert wrong == []


@pytest.mark.parametrize("sheet", ["表二", "表三", "表四"])
def test_merged_ranges_are_as_the_layout_says(
    layout: Layout, wb: openpyxl.Workbook, sheet: str
) -> None:
    expected = {
        f"{lab.cell.a1}:{a1(lab.last_row, lab.last_col)}"
        for lab in layout.labels_of(sheet)
        if lab.merged
    }
    assert expected
    assert {str(r) for r in wb[sheet].merged_cells.ranges} == expected


def test_title_names_unit_and_year(form: Form, layout: Layout, wb: openpyxl.Workbook) -> None:
    assert layout.title is not None
    title = value_at(wb, layout.title)
    assert title == form.title_for(UNIT.name, YEAR)
    assert UNIT.name in title and f"{YEAR}年" in title
    assert wb.properties.title == title


def test_blank_title_has_a_placeholder(form: Form, layout: Layout) -> None:
    blank = openpyxl.load_workbook(io.BytesIO(template_bytes(YEAR)))
    assert layout.title is not None
    assert value_at(blank, layout.title) == form.title_for("（填报单位）", YEAR)


def test_header_block_and_unit_name(form: Form, layout: Layout, wb: openpyxl.Workbook) -> None:
    labels = {lab.text: lab.cell for lab in layout.labels_of(form.front_sheet)}
    for header in form.headers:
        assert header.label in labels
        text = layout.texts[header.id]
        assert text.cell.row == labels[header.label].row  # the input stands beside its label
    assert value_at(wb, layout.texts["unit"].cell) == UNIT.name
    assert value_at(wb, layout.texts["filler"].cell) is None


def test_text_sections_are_wrapped_inputs_with_room(
    form: Form, layout: Layout, wb: openpyxl.Workbook
) -> None:
    ws = wb[form.front_sheet]
    merged = {str(r) for r in ws.merged_cells.ranges}
    for text in form.texts:
        assert any(lab.text == text.label for lab in layout.labels_of(form.front_sheet))
        tc = layout.texts[text.id]
        cell = ws.cell(tc.cell.row + 1, tc.cell.col + 1)
        assert f"{tc.cell.a1}:{a1(tc.cell.row, tc.last_col)}" in merged
        assert cell.alignment.wrap_text and cell.alignment.vertical == "top"
        # XlsxWriter rounds heights to whole pixels (260 pt → 260.25).
        assert ws.row_dimensions[tc.cell.row + 1].height == pytest.approx(text.height, abs=1)


# ------------------------------------------------------------------ locking and identity


def expected_unlocked(layout: Layout) -> set[tuple[str, str]]:
    cells = {(c.sheet, c.a1) for fid, c in layout.fields.items() if not is_total(layout, fid)}
    for tc in layout.texts.values():
        for col in range(tc.cell.col, tc.last_col + 1):
            cells.add((tc.cell.sheet, a1(tc.cell.row, col)))
    return cells


def is_total(layout: Layout, fid: str) -> bool:
    return layout.form.by_id[fid].is_total


def unlocked_cells(wb: openpyxl.Workbook) -> set[tuple[str, str]]:
    return {
        (ws.title, cell.coordinate)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if not cell.protection.locked
    }


def test_exactly_the_input_cells_are_unlocked(layout: Layout, wb: openpyxl.Workbook) -> None:
    assert unlocked_cells(wb) == expected_unlocked(layout)


def test_input_cells_are_coloured_and_others_not(layout: Layout, wb: openpyxl.Workbook) -> None:
    inputs = expected_unlocked(layout)
    # A merged range shows the fill of its first cell; openpyxl gives the others none.
    fills = {wb[s][c].fill.fgColor.rgb for s, c in inputs if not isinstance(wb[s][c], MergedCell)}
    assert len(fills) == 1  # one colour says "type here"
    others = {
        cell.fill.fgColor.rgb
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if (ws.title, cell.coordinate) not in inputs and not isinstance(cell, MergedCell)
    }
    assert fills.isdisjoint(others)


def test_every_sheet_and_the_structure_are_protected(wb: openpyxl.Workbook) -> None:
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert all(ws.protection.password is None for ws in wb.worksheets)  # default: no password
    assert wb.security is not None and wb.security.lockStructure


def test_metadata_sheet_is_very_hidden_and_identifies(form: Form, wb: openpyxl.Workbook) -> None:
    ws = wb[form.meta_sheet]
    assert ws.sheet_state == "veryHidden"
    meta = {row[0]: row[1] for row in ws.iter_rows(values_only=True)}
    assert meta["form_id"] == form.id
    assert meta["form_version"] == form.version
    assert meta["year"] == str(YEAR)
    assert (meta["unit"], meta["unit_code"]) == (UNIT.name, UNIT.code)
    assert meta["template_id"] == "tpl-test-1"
    visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert visible == [form.front_sheet, *table_sheets(form)]


def test_each_template_gets_its_own_id(form: Form) -> None:
    ids = set()
    for _ in range(2):
        book = openpyxl.load_workbook(io.BytesIO(template_bytes(YEAR, UNIT)))
        meta = {r[0]: r[1] for r in book[form.meta_sheet].iter_rows(values_only=True)}
        ids.add(meta["template_id"])
    assert len(ids) == 2


def test_custom_document_properties(form: Form, wb: openpyxl.Workbook) -> None:
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props["nianbao_form_id"] == form.id
    assert props["nianbao_form_version"] == form.version
    assert props["nianbao_year"] == str(YEAR)
    assert props["nianbao_unit"] == UNIT.name
    assert props["nianbao_unit_code"] == UNIT.code
    assert props["nianbao_template_id"] == "tpl-test-1"


def test_defined_names_point_at_the_cells(
    form: Form, layout: Layout, wb: openpyxl.Workbook
) -> None:
    targets = {f.id: layout.fields[f.id] for f in form.fields}
    targets |= {"text." + tid: tc.cell for tid, tc in layout.texts.items()}
    for key, cell in targets.items():
        dests = list(wb.defined_names[defined_name(key)].destinations)
        assert dests == [(cell.sheet, "$" + re.sub(r"(\d+)$", r"$\1", cell.a1))], key


def test_password_protects_sheets_and_structure(form: Form) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(YEAR, UNIT, password="hl2025")))
    assert {ws.protection.password for ws in book.worksheets} == {hash_password("hl2025")}
    assert book.security.workbookPassword == hash_password("hl2025")


# ------------------------------------------------------------------ validation and print


def validations(wb: openpyxl.Workbook) -> dict[tuple[str, str], list[object]]:
    found: dict[tuple[str, str], list[object]] = {}
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            for rng in dv.sqref.ranges:
                for row in ws[rng.coord] if ":" in rng.coord else [[ws[rng.coord]]]:
                    for cell in row:
                        found.setdefault((ws.title, cell.coordinate), []).append(dv)
    return found


def test_validation_covers_every_input_and_nothing_else(
    form: Form, layout: Layout, wb: openpyxl.Workbook
) -> None:
    found = validations(wb)
    inputs = {(layout.fields[f.id].sheet, layout.fields[f.id].a1): f for f in form.inputs}
    assert set(found) == set(inputs)
    for key, f in inputs.items():
        (dv,) = found[key]
        assert dv.type == ("whole" if f.kind == "count" else "decimal"), f.id
        assert (dv.operator, dv.formula1) == ("greaterThanOrEqual", "0")
        assert dv.showErrorMessage and CJK.search(dv.error) and CJK.search(dv.errorTitle)


@pytest.mark.parametrize("sheet", ["基本情况", "表二", "表三", "表四"])
def test_print_setup(form: Form, wb: openpyxl.Workbook, sheet: str) -> None:
    ws: Worksheet = wb[sheet]
    tables = {t.sheet: t for t in form.tables}
    assert ws.page_setup.paperSize == 9  # A4
    landscape = sheet in tables and tables[sheet].landscape
    assert ws.page_setup.orientation == ("landscape" if landscape else "portrait")
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1)  # absent means 1 in OOXML
    if sheet in tables:
        assert ws.page_setup.fitToHeight in (None, 1)
        assert ws.print_title_rows == "$1:$1"
    else:
        assert ws.page_setup.fitToHeight == 0  # as many pages as the texts need


def test_table_three_and_four_are_landscape_in_the_declaration(form: Form) -> None:
    assert [t.sheet for t in form.tables if t.landscape] == ["表三", "表四"]


# ------------------------------------------------------------------ formulas as stored


def test_totals_are_formulas_with_cached_zero(
    form: Form, layout: Layout, wb: openpyxl.Workbook, cached: openpyxl.Workbook
) -> None:
    for f in form.totals:
        cell = layout.fields[f.id]
        assert str(value_at(wb, cell)).startswith("=SUM("), f.id
        assert value_at(cached, cell) == 0, f.id


def test_check_cells_are_formulas_with_cached_pass(
    layout: Layout, wb: openpyxl.Workbook, cached: openpyxl.Workbook
) -> None:
    assert layout.overall_check is not None
    cells = [c.cell for c in layout.checks] + [layout.overall_check]
    assert len(layout.checks) == 7  # one per column of table 三
    for cell in cells:
        assert str(value_at(wb, cell)).startswith("=IF("), cell.ref
        assert value_at(cached, cell) == PASS, cell.ref


def test_check_cells_are_highlighted(layout: Layout, wb: openpyxl.Workbook) -> None:
    assert layout.overall_check is not None
    for cell in [c.cell for c in layout.checks] + [layout.overall_check]:
        rules = [
            rule
            for cf in wb[cell.sheet].conditional_formatting
            if cell.a1 in cf.sqref
            for rule in cf.rules
        ]
        assert {r.formula[0] for r in rules} == {f'"{PASS}"', f'"{FAIL}"'}, cell.ref


# ------------------------------------------------------------------ LibreOffice


def expected_totals(form: Form, values: dict[str, float]) -> dict[str, float]:
    """Each total summed here from the input values, following the official structure."""

    def value(fid: str) -> float:
        f = form.by_id[fid]
        return sum(value(p) for p in f.sum_of) if f.is_total else values[fid]

    return {f.id: value(f.id) for f in form.totals}


def grid_value(grids: dict[str, list[list[object]]], cell: Cell) -> object:
    rows = grids[cell.sheet]
    row = rows[cell.row] if cell.row < len(rows) else []
    return row[cell.col] if cell.col < len(row) else None


@pytest.fixture(scope="module")
def figures(form: Form) -> dict[str, float]:
    return consistent_figures(form, random.Random(20251231))


@pytest.fixture(scope="module")
def recalculated(
    tmp_path_factory: pytest.TempPathFactory, layout: Layout, data: bytes, figures: dict
) -> tuple[Path, Path, dict[str, list[list[object]]]]:
    """(filled file, its LibreOffice round trip, the recalculated values)."""
    if find_soffice() is None:
        pytest.skip("未安装 LibreOffice（soffice 不在 PATH 上）")
    src = fill(data, tmp_path_factory.mktemp("filled") / "群科镇.xlsx", layout, figures,
               sample_texts(UNIT.name, figures))  # fmt: skip
    out = tmp_path_factory.mktemp("recalc")
    grids = recalculated_values(src, out)
    return src, out / src.name, grids


@needs_office
def test_libreoffice_totals_equal_the_sums(
    form: Form, layout: Layout, figures: dict[str, float], recalculated
) -> None:
    grids = recalculated[2]
    expected = expected_totals(form, figures)
    got = {fid: grid_value(grids, layout.fields[fid]) for fid in expected}
    assert got == pytest.approx(expected)
    assert expected["t3.results_total.total"] > 0  # the figures are not all zero


@needs_office
def test_libreoffice_checks_pass_for_consistent_figures(layout: Layout, recalculated) -> None:
    grids = recalculated[2]
    assert layout.overall_check is not None
    assert [grid_value(grids, c.cell) for c in layout.checks] == [PASS] * len(layout.checks)
    assert grid_value(grids, layout.overall_check) == PASS


@needs_office
def test_libreoffice_flags_a_broken_balance(
    tmp_path: Path, form: Form, layout: Layout, data: bytes, figures: dict[str, float]
) -> None:
    broken = {**figures, "t3.new.natural": figures["t3.new.natural"] + 1}
    src = fill(data, tmp_path / "broken.xlsx", layout, broken)
    grids = recalculated_values(src, tmp_path / "out")
    # The 总计 column sums the 自然人 column, so its balance breaks too.
    failing = {"natural"} | {c.id for b in form.table("t3").blocks for c in b.columns if c.sum_of}
    got = {c.column.id: grid_value(grids, c.cell) for c in layout.checks}
    assert got == {cid: FAIL if cid in failing else PASS for cid in got}
    assert layout.overall_check is not None
    assert grid_value(grids, layout.overall_check) == FAIL


@needs_office
def test_round_trip_through_libreoffice_reads_back_unchanged(recalculated) -> None:
    src, round_trip, _ = recalculated
    before, after = read_unit(src), read_unit(round_trip)
    assert after.identity == before.identity
    assert after.identity.unit == UNIT.name and after.identity.template_id == "tpl-test-1"
    assert after.values == before.values
    assert after.texts == before.texts
    assert [i.code for i in after.issues] == [i.code for i in before.issues] == []


@needs_office
def test_round_trip_keeps_locking(layout: Layout, recalculated) -> None:
    book = openpyxl.load_workbook(recalculated[1])
    assert all(ws.protection.sheet for ws in book.worksheets)
    assert unlocked_cells(book) == expected_unlocked(layout)


@needs_office
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="未安装 pdfinfo（poppler-utils）")
def test_libreoffice_prints_each_table_on_one_a4_page(
    tmp_path: Path, form: Form, data: bytes
) -> None:
    src = tmp_path / "模板.xlsx"
    src.write_bytes(data)
    pdf = convert(src, "pdf", tmp_path / "pdf")
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "99", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
    pages = [(round(float(w)), round(float(h))) for w, h in sizes]
    # One page for the front sheet, then one page per table: 二 portrait, 三 and 四 landscape.
    assert pages == [(595, 842), (595, 842), (842, 595), (842, 595)]


# ------------------------------------------------------------------ blank template file


def test_write_blank_template(tmp_path: Path, form: Form) -> None:
    path = write_blank_template(tmp_path, 2026)
    assert path == tmp_path / "年报模板.xlsx"
    report = read_unit(path)
    assert (report.identity.year, report.identity.unit) == (2026, "")
    assert report.identity.form_id == form.id


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", header[16:24])


@needs_office
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="未安装 poppler-utils")
def test_templates_out_rebuilds_blank_template_and_pngs(tmp_path: Path, form: Form) -> None:
    assert templates_out_main([str(tmp_path), "--year", "2025"]) == 0
    sheets = [form.front_sheet, *table_sheets(form)]
    expected = ["年报模板.xlsx", *(f"template-{s}.png" for s in sheets)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected)
    for table in form.tables:
        width, height = png_size(tmp_path / f"template-{table.sheet}.png")
        assert (width > height) == table.landscape, table.sheet


# ------------------------------------------------------------------ CLI

runner = CliRunner()


def meta_of(path: Path, form: Form) -> dict[str, str]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {r[0]: r[1] for r in book[form.meta_sheet].iter_rows(values_only=True)}
    finally:
        book.close()


def test_cli_single_unit(tmp_path: Path, form: Form, layout: Layout) -> None:
    out = tmp_path / "群科镇.xlsx"
    result = runner.invoke(
        app, ["template", "--year", "2025", "--unit", "群科镇", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert meta_of(out, form)["unit"] == "群科镇"
    assert layout.title is not None
    assert value_at(openpyxl.load_workbook(out), layout.title) == form.title_for("群科镇", 2025)


@pytest.mark.parametrize("roster", ["units.xlsx", "units.csv"])
def test_cli_roster_writes_one_file_per_unit(
    tmp_path: Path, form: Form, layout: Layout, roster: str
) -> None:
    units = read_roster(SAMPLES / roster).units
    outbox = tmp_path / "outbox"
    args = ["template", "--year", "2025", "--roster", str(SAMPLES / roster), "--out", str(outbox)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outbox.iterdir()) == sorted(f"{u.name}.xlsx" for u in units)
    for unit in units:
        meta = meta_of(outbox / f"{unit.name}.xlsx", form)
        assert (meta["unit"], meta["unit_code"], meta["year"]) == (unit.name, unit.code, "2025")
    assert len({meta_of(p, form)["template_id"] for p in outbox.iterdir()}) == len(units)


def test_cli_password(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    args = ["template", "--year", "2025", "--unit", "甘都镇", "--out", str(out)]
    assert runner.invoke(app, [*args, "--password", "gd"]).exit_code == 0
    book = openpyxl.load_workbook(out)
    assert {ws.protection.password for ws in book.worksheets} == {hash_password("gd")}
