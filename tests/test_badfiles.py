"""Bad and odd files: one clear Chinese message each, never a traceback, never a changed file."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import msoffcrypto.format.ooxml
import openpyxl
import pytest
import python_calamine

from nianbao import check as check_module
from nianbao import office, reader
from nianbao.check import check_file
from nianbao.form import Form, Layout
from nianbao.reader import read_unit

needs_office = pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice not installed")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unreadable(path: Path, code: str) -> str:
    """Check a bad file: one error with `code`, the file untouched; return the message."""
    before = digest(path)
    result = check_file(path)
    assert digest(path) == before
    assert result.report is None and result.status == "无法读取"
    assert [(i.code, i.severity, i.file) for i in result.issues] == [(code, "错误", path.name)]
    message = result.issues[0].message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message) and "Traceback" not in message
    return message


def rewrite_zip(src: bytes, change) -> bytes:
    """A copy of an xlsx with change(name, data) → data applied to every member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info)), 8)
    return out.getvalue()


@pytest.fixture
def good(make_return) -> Path:
    return make_return()


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "空.xlsx").write_bytes(b"")
    assert "为空" in unreadable(tmp_path / "空.xlsx", "FILE_EMPTY")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "乱码.xlsx"
    path.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(5000)) + b"\x00")
    unreadable(path, "FILE_UNKNOWN")


def test_truncated_download(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    path = tmp_path / "下载中断.xlsx"
    path.write_bytes(data[: len(data) // 2])
    assert "不完整" in unreadable(path, "FILE_TRUNCATED")


def test_a_zip_that_is_no_workbook(tmp_path: Path) -> None:
    path = tmp_path / "打包.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("说明.txt", "请查收")
    assert "压缩包" in unreadable(path, "FILE_ARCHIVE")


def test_a_word_document_renamed_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "年报.xlsx"
    document = docx.Document()
    document.add_paragraph("政府信息公开工作年度报告")
    document.save(path)
    assert "Word" in unreadable(path, "FILE_NOT_FORM")  # a Word file is read as a published report


def test_an_encrypted_workbook_asks_for_it_without_password(good: Path, tmp_path: Path) -> None:
    path = tmp_path / "加密.xlsx"
    with good.open("rb") as src, path.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(src).encrypt("secret", out)
    message = unreadable(path, "FILE_ENCRYPTED")
    assert "密码" in message


def test_a_workbook_encrypted_with_excels_default_password_reads(
    good: Path, tmp_path: Path
) -> None:
    path = tmp_path / "只读加密.xlsx"
    with good.open("rb") as src, path.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(src).encrypt("VelvetSweatshop", out)
    assert read_unit(path).values == read_unit(good).values


def test_a_workbook_that_is_not_this_form(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["项目", "数量"])
    for i in range(10):
        ws.append([f"第{i}项", i * 3])
    wb.save(tmp_path / "别的表.xlsx")
    assert "不是" in unreadable(tmp_path / "别的表.xlsx", "FILE_NOT_FORM")


@pytest.mark.parametrize(("key", "value"), [("form_id", "budget-report"), ("form_version", "2019")])
def test_a_template_of_another_form_or_version(
    good: Path, form: Form, tmp_path: Path, key: str, value: str
) -> None:
    wb = openpyxl.load_workbook(good)
    meta = wb[form.meta_sheet]
    row = next(r for r in meta.iter_rows() if r[0].value == key)
    row[1].value = value
    wb.save(tmp_path / "旧版.xlsx")
    message = unreadable(tmp_path / "旧版.xlsx", "FILE_OTHER_FORM")
    assert form.name in message and (key == "form_id" or value in message)


def test_a_zip_bomb_is_refused_before_inflating(good: Path, tmp_path: Path) -> None:
    zeros = b"\x00" * (40 * 1024 * 1024)
    data = rewrite_zip(
        good.read_bytes(),
        lambda name, d: d + zeros if name.endswith("sheet2.xml") else d,
    )
    (tmp_path / "炸弹.xlsx").write_bytes(data)
    unreadable(tmp_path / "炸弹.xlsx", "FILE_BOMB")


def _entity_bomb(name: str, data: bytes) -> bytes:
    if not name.endswith("sheet1.xml"):
        return data
    entities = (
        '<!ENTITY a "'
        + "哈" * 1000
        + '">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    )
    start = data.index(b"<worksheet")
    doctype = f"<!DOCTYPE worksheet [{entities}]>".encode()
    body = data[start:].replace(b"<t>", b"<t>&i;", 1)
    return data[:start] + doctype + body


def test_an_xml_entity_bomb_is_refused_quickly(good: Path, tmp_path: Path) -> None:
    path = tmp_path / "实体炸弹.xlsx"
    path.write_bytes(rewrite_zip(good.read_bytes(), _entity_bomb))
    assert "实体" in unreadable(path, "FILE_BOMB")


def test_calamine_itself_does_not_expand_entities(good: Path) -> None:
    """Why the DOCTYPE check is a message, not the only guard: calamine refuses entities."""
    data = rewrite_zip(good.read_bytes(), _entity_bomb)
    with pytest.raises(Exception, match="entity"):
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        book.get_sheet_by_index(0).to_python()


def test_an_internal_error_is_one_short_line_with_details_kept(good: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise KeyError("t9.nothing")

    monkeypatch.setattr(check_module, "evaluate", broken)
    result = check_file(good)
    assert [(i.code, i.file) for i in result.issues] == [("INTERNAL", good.name)]
    assert result.issues[0].message.startswith("内部错误") and "\n" not in result.issues[0].message
    assert "KeyError" in result.debug and "Traceback" in result.debug


# ------------------------------------------------------------------ "xls" that are not xls
def spreadsheet_2003(grids: dict[str, list[list[object]]]) -> bytes:
    """The grids as Excel 2003 XML (SpreadsheetML), as old systems export an "xls"."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">'
    ]
    for name, grid in grids.items():
        out.append(f'<Worksheet ss:Name="{escape(name)}"><Table>')
        for r, row in enumerate(grid, start=1):
            out.append(f'<Row ss:Index="{r}">')
            for c, value in enumerate(row, start=1):
                if value in ("", None):
                    continue
                kind = "Number" if isinstance(value, (int, float)) else "String"
                data = f'<Data ss:Type="{kind}">{escape(str(value))}</Data>'
                out.append(f'<Cell ss:Index="{c}">{data}</Cell>')
            out.append("</Row>")
        out.append("</Table></Worksheet>")
    out.append("</Workbook>")
    return "".join(out).encode("utf-8")


def grids_of(path: Path) -> dict[str, list[list[object]]]:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return {n: book.get_sheet_by_name(n).to_python() for n in book.sheet_names}


@pytest.fixture
def odd_xls(good: Path, tmp_path: Path) -> dict[str, Path]:
    xml = tmp_path / "2003格式.xls"
    xml.write_bytes(spreadsheet_2003(grids_of(good)))
    html = tmp_path / "网页格式.xls"
    html.write_bytes(
        b"<html><head><meta charset='utf-8'></head><body><table>"
        + "<tr><td>填报单位</td><td>群科镇</td></tr>".encode()
        + b"</table></body></html>"
    )
    return {"xml": xml, "html": html}


@pytest.mark.parametrize("kind", ["xml", "html"])
def test_web_format_xls_without_libreoffice_gets_one_message(
    odd_xls: dict[str, Path], monkeypatch, kind: str
) -> None:
    monkeypatch.setattr(reader.office, "find_soffice", lambda: None)
    message = unreadable(odd_xls[kind], "FILE_NEEDS_OFFICE")
    assert "LibreOffice" in message and "另存为 .xlsx" in message


@needs_office
def test_an_excel_2003_xml_xls_is_read_through_libreoffice(
    good: Path, odd_xls: dict[str, Path]
) -> None:
    before = digest(odd_xls["xml"])
    result = check_file(odd_xls["xml"])
    assert digest(odd_xls["xml"]) == before
    assert result.report is not None and result.report.values == read_unit(good).values
    assert result.report.identity == read_unit(good).identity


@needs_office
def test_an_html_xls_is_read_through_libreoffice(
    good: Path, odd_xls: dict[str, Path], layout: Layout, tmp_path: Path
) -> None:
    exported = office.convert(good, "html:HTML (StarCalc)", tmp_path / "html")
    page = tmp_path / "系统导出.xls"
    page.write_bytes(exported.read_bytes())
    result = check_file(page)
    assert result.report is not None, result.issues
    base = read_unit(good)
    assert result.report.values == base.values and result.report.texts == base.texts
    assert (result.report.identity.unit, result.report.identity.year) == ("群科镇", 2025)
    assert {i.code for i in result.issues} == {"META_MISSING", "TEMPLATE_MODIFIED"}
    assert result.errors == []
    # a page that holds no report is answered like any other workbook that is not the form
    unreadable(odd_xls["html"], "FILE_NOT_FORM")
