"""LibreOffice really recalculates, converts and renders; the source file is never touched."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from nianbao.office import OfficeError, convert, find_soffice, recalculated_values, render_png

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(find_soffice() is None, reason="未安装 LibreOffice（soffice 不在 PATH 上）"),
]

MAGIC = {"xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "pdf": b"%PDF", "xlsx": b"PK\x03\x04"}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs 2 and 3, with formulas whose cached results are deliberately wrong."""
    path = tmp_path_factory.mktemp("src") / "表.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("表一")
    ws.write("A1", 2)
    ws.write("A2", 3)
    ws.write_formula("A3", "=A1+A2", None, 999)
    ws.write_formula("A4", '=IF(A1+A2=5,"通过","不通过")', None, "不通过")
    wb.close()
    return path


@pytest.fixture(scope="module")
def values(book: Path, tmp_path_factory: pytest.TempPathFactory) -> list[list[object]]:
    return recalculated_values(book, tmp_path_factory.mktemp("recalc"))["表一"]


def test_sum_is_recalculated_not_the_cached_999(values: list[list[object]]) -> None:
    assert values[2][0] == 5


def test_text_formula_is_recalculated(values: list[list[object]]) -> None:
    assert values[3][0] == "通过"


def test_without_recalc_the_cached_value_stays(book: Path, tmp_path: Path) -> None:
    out = convert(book, "xlsx", tmp_path, recalc=False, reuse_profile=False)
    assert openpyxl.load_workbook(out, data_only=True)["表一"]["A3"].value == 999


@pytest.mark.parametrize("fmt", ["xls", "pdf", "xlsx:Calc MS Excel 2007 XML"])
def test_convert_writes_the_right_format(book: Path, tmp_path: Path, fmt: str) -> None:
    ext = fmt.split(":")[0]
    out = convert(book, fmt, tmp_path)
    assert out == tmp_path / f"表.{ext}"
    assert out.read_bytes().startswith(MAGIC[ext])


def test_render_png(book: Path, tmp_path: Path) -> None:
    pages = render_png(book, tmp_path)
    assert len(pages) == 1
    assert pages[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_missing_input_raises(tmp_path: Path) -> None:
    with pytest.raises(OfficeError, match="找不到"):
        convert(tmp_path / "无.xlsx", "xlsx", tmp_path)


def test_refuses_to_overwrite_source(book: Path) -> None:
    with pytest.raises(OfficeError, match="覆盖"):
        convert(book, "xlsx", book.parent)


def test_timeout_raises(book: Path, tmp_path: Path) -> None:
    with pytest.raises(OfficeError, match="超时"):
        convert(book, "pdf", tmp_path, timeout=0.05)
    assert convert(book, "pdf", tmp_path).is_file()  # the next call still works


def test_source_is_untouched(book: Path, tmp_path: Path) -> None:
    before = book.read_bytes()
    listing = sorted(p.name for p in book.parent.iterdir())
    convert(book, "pdf", book.parent)  # even into the source's own folder
    convert(book, "xlsx", tmp_path)
    assert book.read_bytes() == before
    assert sorted(p.name for p in book.parent.iterdir()) == sorted([*listing, "表.pdf"])
