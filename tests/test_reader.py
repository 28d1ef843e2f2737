"""Reading returned workbooks: typed text, blanks, moved rows and columns, lost metadata."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import openpyxl
import pytest

from conftest import consistent_figures, sample_texts
from nianbao import office
from nianbao.check import check_file
from nianbao.form import Form, Layout
from nianbao.form.layout import Cell
from nianbao.reader import read_unit

UNIT, YEAR = "群科镇", 2025


def grid_workbook(
    dest: Path,
    form: Form,
    layout: Layout,
    values: dict[str, float],
    texts: dict[str, str],
    *,
    meta: dict[str, str] | None = None,
    insert: dict[str, tuple[str, int]] | None = None,
    relabel: dict[str, str] | None = None,
    overrides: dict[str, object] | None = None,
) -> Path:
    """The template's grid written into a new plain workbook, the way people copy a form.

    `insert` = {sheet: ("row" | "col", index)}: an empty row/column inserted at that index, all
    cells from it on moved by one (openpyxl's insert_rows moves neither merges nor formulas).
    Totals are written as recomputed numbers, `overrides` replace any field's value.
    """
    cells: dict[str, dict[tuple[int, int], object]] = {s.name: {} for s in layout.sheets}
    for lab in layout.labels:
        cells[lab.cell.sheet][lab.cell.row, lab.cell.col] = (relabel or {}).get(lab.text, lab.text)
    assert layout.title is not None
    cells[layout.title.sheet][layout.title.row, layout.title.col] = form.title_for(UNIT, YEAR)
    figures = {**form.compute(values), **(overrides or {})}
    for fid, cell in layout.fields.items():
        cells[cell.sheet][cell.row, cell.col] = figures[fid]
    for tid, text in texts.items():
        cell = layout.texts[tid].cell
        cells[cell.sheet][cell.row, cell.col] = text
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet, content in cells.items():
        ws = wb.create_sheet(sheet)
        axis, at = (insert or {}).get(sheet, ("", 1 << 30))
        for (r, c), value in content.items():
            r += axis == "row" and r >= at
            c += axis == "col" and c >= at
            ws.cell(r + 1, c + 1, value)
    if meta is not None:
        ws = wb.create_sheet(form.meta_sheet)
        for key, value in meta.items():
            ws.append([key, value])
        ws.sheet_state = "hidden"
    wb.save(dest)
    return dest


def fill_raw(src: Path, layout: Layout, cells: dict[str, object], dest: Path) -> Path:
    """Overwrite some fields of a filled return with raw cell values (text, formulas' results)."""
    wb = openpyxl.load_workbook(src)
    for fid, value in cells.items():
        cell = layout.fields[fid]
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1, value)
    wb.save(dest)
    return dest


def meta_of(form: Form) -> dict[str, str]:
    return {"form_id": form.id, "form_version": form.version, "year": str(YEAR), "unit": UNIT}


@pytest.fixture
def figures(form: Form) -> dict[str, float]:
    return consistent_figures(form, random.Random(7))


def codes(result) -> list[str]:
    return [i.code for i in result.issues]


def test_a_filled_template_reads_back_exactly(make_return, form: Form, figures) -> None:
    report = read_unit(make_return(values=figures))
    assert report.values == figures
    assert report.identity.unit == UNIT and report.identity.year == YEAR
    assert report.identity.source == "meta" and report.identity.category == "乡镇"
    assert report.texts["s6"] == sample_texts(UNIT, figures)["s6"]
    assert report.issues == [] and report.readable


@pytest.mark.parametrize("typed", ["12", " 12 ", "１２", "12件", "12 件", "+12", "12.0"])
def test_figures_typed_as_text_read_as_numbers(
    make_return, form: Form, layout: Layout, figures, typed: str, tmp_path: Path
) -> None:
    fid = "t2.penalty.decisions"
    path = fill_raw(make_return(values=figures), layout, {fid: typed}, tmp_path / "typed.xlsx")
    result = check_file(path)
    assert result.report is not None and result.report.values[fid] == 12
    assert result.errors == []


def test_blank_cells_are_zero_and_a_blank_table_gets_one_hint(
    make_return, form: Form, layout: Layout, figures
) -> None:
    some_blank = {k: v for k, v in figures.items() if not k.startswith(("t4.", "t2.license"))}
    result = check_file(make_return(values=some_blank))
    assert result.report is not None
    assert all(result.report.values[f.id] == 0 for f in form.inputs if f.table == "t4")
    blanks = [i for i in result.issues if i.code == "TABLE_BLANK"]
    assert [(i.severity, i.sheet) for i in blanks] == [("提示", form.table("t4").sheet)]
    assert result.errors == []


@pytest.mark.parametrize("typed", ["/", "—", "无", "\uff0d"])
def test_placeholders_read_as_zero_with_a_hint(
    make_return, layout: Layout, figures, typed: str, tmp_path: Path
) -> None:
    fid = "t4.cases.review_pending"
    path = fill_raw(make_return(values=figures), layout, {fid: typed}, tmp_path / "p.xlsx")
    result = check_file(path)
    assert result.report is not None and result.report.values[fid] == 0
    hits = [(i.code, i.severity, i.cell) for i in result.issues if i.code == "VALUE_PLACEHOLDER"]
    assert hits == [("VALUE_PLACEHOLDER", "提示", layout.fields[fid].a1)]
    assert result.errors == []


def test_a_widened_column_changes_nothing(
    make_return, layout: Layout, figures, tmp_path: Path
) -> None:
    src = make_return(values=figures)
    wb = openpyxl.load_workbook(src)
    cell = layout.fields["t3.new.natural"]
    wb[cell.sheet].protection.sheet = False
    wb[cell.sheet].column_dimensions[cell.a1.rstrip("0123456789")].width = 40
    wb.save(tmp_path / "wide.xlsx")
    result = check_file(tmp_path / "wide.xlsx")
    assert result.report is not None and result.report.values == figures
    assert codes(result) == ["REGULATION_BY_UNIT"] or "TEMPLATE_MODIFIED" not in codes(result)


def moved(cell: Cell, axis: str, at: int) -> str:
    r = cell.row + (axis == "row" and cell.row >= at)
    c = cell.col + (axis == "col" and cell.col >= at)
    return Cell(cell.sheet, r, c).ref


@pytest.mark.parametrize("axis", ["row", "col"])
def test_a_row_or_column_inserted_in_table_three_is_found_by_label(
    form: Form, layout: Layout, figures, axis: str, tmp_path: Path
) -> None:
    sheet = form.table("t3").sheet
    anchor = layout.fields["t3.carried.commercial"]  # inside the table, not at its edge
    at = anchor.row if axis == "row" else anchor.col
    texts = sample_texts(UNIT, figures)
    path = grid_workbook(
        tmp_path / "moved.xlsx", form, layout, figures, texts,
        meta=meta_of(form), insert={sheet: (axis, at)},
    )  # fmt: skip
    result = check_file(path)
    assert result.report is not None and result.report.values == figures
    assert {(i.code, i.severity) for i in result.issues} == {("TEMPLATE_MODIFIED", "提示")}
    # the grid was copied as values: 表四's totals are reported as formulas replaced, and 表三
    # (found by label) once for its moved labels
    assert [i.sheet for i in result.issues if "公式" not in i.message] == [sheet]
    for fid in ("t3.new.natural", "t3.carry_next.total", "t3.other_other.other"):
        assert result.report.cells[fid] == moved(layout.fields[fid], axis, at)


def test_a_wrong_total_in_a_moved_table_is_reported_at_its_real_cell(
    form: Form, layout: Layout, figures, tmp_path: Path
) -> None:
    sheet, fid = form.table("t3").sheet, "t3.results_total.research"
    at = layout.fields["t3.public.natural"].row
    wrong = form.compute(figures)[fid] + 5
    path = grid_workbook(
        tmp_path / "moved.xlsx", form, layout, figures, {},
        meta=meta_of(form), insert={sheet: ("row", at)}, overrides={fid: wrong},
    )  # fmt: skip
    result = check_file(path)
    assert [(i.code, i.sheet + "!" + i.cell) for i in result.errors] == [
        ("T3_TOTAL_ROW", moved(layout.fields[fid], "row", at))
    ]


def test_an_edited_row_label_stops_the_table_from_being_read(
    form: Form, layout: Layout, figures, tmp_path: Path
) -> None:
    table = form.table("t3")
    label = form.by_id["t3.public.natural"].row_label
    at = layout.fields["t3.new.natural"].row
    path = grid_workbook(
        tmp_path / "edited.xlsx", form, layout, figures, {},
        meta=meta_of(form), relabel={label: "予以公开"}, insert={table.sheet: ("row", at)},
    )  # fmt: skip
    result = check_file(path)
    assert result.report is not None and not result.report.readable
    assert [(i.code, i.sheet) for i in result.errors] == [("LAYOUT_UNCERTAIN", table.sheet)]
    assert label in result.errors[0].message
    assert not any(fid.startswith("t3.") for fid in result.report.parsed)
    assert not any(fid.startswith("t3.") for fid in result.report.cells)
    t2 = {k: v for k, v in result.report.values.items() if k.startswith("t2.")}
    assert t2 == {k: v for k, v in figures.items() if k.startswith("t2.")}


def test_cells_copied_without_metadata_identify_by_title_and_unit(
    form: Form, layout: Layout, figures, tmp_path: Path
) -> None:
    texts = {**sample_texts(UNIT, figures), "unit": "化隆县群科镇人民政府"}
    path = grid_workbook(tmp_path / "copied.xlsx", form, layout, figures, texts)
    result = check_file(path, expected_year=YEAR)
    assert result.report is not None and result.report.values == figures
    ident = result.report.identity
    assert (ident.unit, ident.year, ident.source) == ("化隆县群科镇人民政府", YEAR, "title")
    assert layout.title is not None
    assert [(i.code, i.severity, i.sheet, i.cell) for i in result.issues] == [
        ("META_MISSING", "提示", form.front_sheet, layout.title.a1)
    ]


def test_tables_copied_into_sheets_with_other_names_are_found(
    form: Form, layout: Layout, figures, tmp_path: Path
) -> None:
    path = grid_workbook(tmp_path / "copied.xlsx", form, layout, figures, {})
    wb = openpyxl.load_workbook(path)
    for i, ws in enumerate(wb.worksheets, start=1):
        ws.title = f"Sheet{i}"
    wb.save(path)
    report = read_unit(path)
    assert report.values == figures and report.identity.year == YEAR
    assert report.cells["t3.new.total"] == "Sheet3!" + layout.fields["t3.new.total"].a1


def test_a_workbook_of_another_year_gives_year_mismatch(make_return, layout: Layout) -> None:
    result = check_file(make_return(year=2024), expected_year=2025)
    assert layout.title is not None
    assert [(i.code, i.cell) for i in result.errors] == [("YEAR_MISMATCH", layout.title.a1)]
    assert "2024" in result.errors[0].message and "2025" in result.errors[0].message
    assert check_file(make_return(year=2024), expected_year=2024).errors == []


needs_office = pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice not installed")


@needs_office
def test_files_saved_by_libreoffice_read_identically(
    make_return, form: Form, figures, tmp_path: Path
) -> None:
    src = make_return(values=figures)
    base = read_unit(src)
    recalculated = office.convert(src, "xlsx", tmp_path / "recalc")
    as_xls = office.convert(src, "xls", tmp_path / "xls")
    as_ods = office.convert(src, "ods", tmp_path / "ods")
    renamed = shutil.copy(src, tmp_path / "renamed.xls")
    for path in (recalculated, as_xls, as_ods, Path(renamed)):
        result = check_file(path)
        assert result.report is not None, (path, result.issues)
        assert result.report.values == base.values, path
        assert result.report.texts == base.texts, path
        assert result.report.identity == base.identity, path
        assert codes(result) == ["REGULATION_BY_UNIT"], path
    assert read_unit(recalculated).stored == {
        f.id: v for f in form.totals for v in [form.compute(figures)[f.id]]
    }
