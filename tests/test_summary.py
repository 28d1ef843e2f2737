"""The summary workbook: right totals (stored and recalculated), detail rows, strings, printing."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from nianbao import office
from nianbao.collect import Collection, collect
from nianbao.form import Form, Layout
from nianbao.reader import read_unit
from nianbao.summary import summary_bytes, write_summary
from nianbao.summary_format import (
    CHARTS,
    DETAIL,
    DETAIL_FIRST_ROW,
    DETAIL_ID_ROW,
    FILES,
    OVERVIEW,
    PROBLEMS,
    STATUS,
    detail_fixed,
    note_label,
    problem_headers,
)
from season import FORMULA_NOTE, FORMULA_TEXT, PARENT, Season, put_return

needs_office = pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice not installed")


@pytest.fixture(scope="module")
def summary(coll: Collection, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_summary(tmp_path_factory.mktemp("out") / "年报汇总.xlsx", coll)


@pytest.fixture(scope="module")
def book(summary: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(summary, data_only=True)


def test_report_sheets_show_every_total_without_recalculation(
    book: openpyxl.Workbook, form: Form, layout: Layout, season: Season
) -> None:
    expected = season.expected(form)
    for fid, cell in layout.fields.items():
        value = book[cell.sheet].cell(cell.row + 1, cell.col + 1).value
        assert value == pytest.approx(expected[fid]), f"{fid} at {cell.ref}"


def test_detail_has_one_row_per_counted_unit_with_its_figures(
    book: openpyxl.Workbook, form: Form, season: Season
) -> None:
    fixed = detail_fixed(form)
    rows = list(book[DETAIL].iter_rows(values_only=True))
    assert tuple(rows[0][: len(fixed)]) == fixed
    ids = rows[DETAIL_ID_ROW]
    assert book[DETAIL].row_dimensions[DETAIL_ID_ROW + 1].hidden
    by_unit = {row[0]: row for row in rows[DETAIL_FIRST_ROW:]}
    assert set(by_unit) == set(season.values)
    for unit, row in by_unit.items():
        assert row[fixed.index("文件")] == season.files[unit]
        figures = dict(zip(ids, row))
        for fid, value in season.expected(form, [unit]).items():
            assert figures[fid] == pytest.approx(value), (unit, fid)


def test_detail_headers_are_the_whole_description_of_each_field(
    book: openpyxl.Workbook, form: Form, layout: Layout
) -> None:
    rows = list(book[DETAIL].iter_rows(max_row=DETAIL_ID_ROW + 1, values_only=True))
    headers = dict(zip(rows[DETAIL_ID_ROW], rows[0]))
    for f in form.fields:
        assert headers[f.id] == layout.describe(f.id, address=False), f.id
        assert f"「{f.row.label}」" in headers[f.id] or not f.row.label
        assert f"「{f.column_name}」" in headers[f.id]
    assert any("（" in f.row.label for f in form.fields)  # the case that used to be cut


def test_problems_keep_explanations_and_strings_stay_strings(summary: Path, form: Form) -> None:
    wb = openpyxl.load_workbook(summary)  # formulas, not values: a formula would show here
    problems = list(wb[PROBLEMS].iter_rows(min_row=1))
    assert tuple(c.value for c in problems[0]) == problem_headers(form)
    explained = [r for r in problems[1:] if r[0].value == "扎巴镇" and r[4].value == "已说明"]
    assert explained
    for row in explained:
        assert row[6].value == FORMULA_NOTE and row[6].data_type == "s"
    detail = next(r for r in wb[DETAIL].iter_rows(min_row=3) if r[0].value == "扎巴镇")
    note = detail[detail_fixed(form).index(note_label(form))]
    assert note.value == FORMULA_NOTE and note.data_type == "s"
    assert not any(
        c.data_type == "f"
        for name in (PROBLEMS, DETAIL, STATUS, FILES)
        for row in wb[name].iter_rows()
        for c in row
    )


def test_names_from_returned_files_are_written_as_strings(
    tmp_path: Path, form: Form, layout: Layout
) -> None:
    put_return(tmp_path / "in" / "a.xlsx", layout, form, FORMULA_TEXT, seed=7)
    data = summary_bytes(collect(tmp_path / "in", year=2025), unit=FORMULA_NOTE)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    unit_cell = layout.texts["unit"].cell
    office_name = wb[unit_cell.sheet].cell(unit_cell.row + 1, unit_cell.col + 1)
    assert office_name.value == FORMULA_NOTE and office_name.data_type == "s"
    for sheet in (DETAIL, STATUS, FILES):
        cells = [c for row in wb[sheet].iter_rows() for c in row if c.value == FORMULA_TEXT]
        assert cells and all(c.data_type == "s" for c in cells), sheet


def test_status_sheet_lists_every_roster_unit_unreported_first(book: openpyxl.Workbook) -> None:
    rows = list(book[STATUS].iter_rows(values_only=True))
    header = rows[0]
    status = {r[0]: dict(zip(header, r)) for r in rows[1:]}
    assert rows[1][0] == "昂思多镇" and status["昂思多镇"]["状态"] == "未报"
    assert status["甘都镇"]["状态"] == "已报有错误" and status["甘都镇"]["错误数"] == 2
    assert status["扎巴镇"]["状态"] == "已报且通过" and status["扎巴镇"]["已说明数"] >= 1
    assert status["牙什尕镇"]["状态"] == "已报有提示" and status["牙什尕镇"]["提示数"] == 1


def test_file_list_shows_every_file_and_what_became_of_it(
    book: openpyxl.Workbook, season: Season
) -> None:
    rows = {r[0]: r for r in book[FILES].iter_rows(min_row=2, values_only=True)}
    names = {str(p.relative_to(season.folder)) for p in season.folder.rglob("*") if p.is_file()}
    assert set(rows) == names
    assert rows["年度报告.docx"][2] == "无法读取" and "Word" in rows["年度报告.docx"][3]
    assert rows["巴燕镇年报（新）.xlsx"][2] == "重复/已被替代"
    assert "新建 Microsoft Excel 工作表.xlsx" in rows["巴燕镇年报（新）.xlsx"][3]


def _overview_text(wb: openpyxl.Workbook) -> str:
    return "\n".join(str(c) for row in wb[OVERVIEW].iter_rows(values_only=True) for c in row if c)


def test_overview_names_the_office_and_counts(book: openpyxl.Workbook) -> None:
    text = _overview_text(book)
    assert text.startswith(f"{PARENT}2025年")  # the roster's common 上级单位 collects
    assert "名单内单位" in text and "昂思多镇" in text


def test_overview_without_roster_claims_no_roster_count(season: Season) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(summary_bytes(collect(season.folder, year=2025))))
    text = _overview_text(wb)
    assert "名单内" not in text and "未提供单位名单" in text
    assert "（汇总单位）" in text


def test_summary_is_itself_a_report_of_the_form(summary: Path, form: Form, season: Season) -> None:
    report = read_unit(summary)
    assert report.identity.kind == "summary" and report.identity.year == 2025
    assert sorted(report.identity.members) == sorted(season.values)
    expected = season.expected(form)
    for fid, value in report.values.items():
        assert value == pytest.approx(expected[fid]), fid


def test_an_existing_summary_is_replaced_only_on_success(
    coll: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "年报汇总.xlsx"
    out.write_bytes(b"last run")

    def boom(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("disk full")

    monkeypatch.setattr("nianbao.summary.summary_bytes", boom)
    with pytest.raises(RuntimeError):
        write_summary(out, coll)
    assert out.read_bytes() == b"last run"
    monkeypatch.undo()
    write_summary(out, coll)
    assert out.read_bytes().startswith(b"PK")
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@needs_office
def test_libreoffice_recalculates_the_same_totals_and_prints_it(
    summary: Path, form: Form, layout: Layout, season: Season, tmp_path: Path
) -> None:
    sheets = office.recalculated_values(summary, tmp_path / "recalc")
    expected = season.expected(form)
    for fid, cell in layout.fields.items():
        assert sheets[cell.sheet][cell.row][cell.col] == pytest.approx(expected[fid]), fid
    pdf = office.convert(summary, "pdf", tmp_path / "pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        assert pages <= 12  # overview, report sheets, one page per list: not dozens of 明细 pages


def test_sheet_order(book: openpyxl.Workbook, form: Form) -> None:
    tables = [t.sheet for t in form.tables]
    assert book.sheetnames[: 2 + len(tables)] == [OVERVIEW, form.front_sheet, *tables]
    assert {DETAIL, PROBLEMS, STATUS, FILES, CHARTS} <= set(book.sheetnames)
