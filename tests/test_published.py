"""Published reports (.docx, web pages) read as returns: the UnitReport a workbook would give."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest

from conftest import consistent_figures, fill, sample_texts
from nianbao.files import FileProblem, Format, Opened, open_bytes, open_returned
from nianbao.form import Form, Layout
from nianbao.issues import ERROR, HINT
from nianbao.numbers import show
from nianbao.office import convert, find_soffice
from nianbao.previous import load_previous
from nianbao.published import CODE, looks_published, report_from_published
from nianbao.reader import read_unit
from nianbao.report import write_report
from nianbao.rules import evaluate
from nianbao.template import UnitInfo, template_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "samples" / "reports"


@dataclass
class Published:
    """A filled workbook, its published .docx, and the figures both hold."""

    workbook: Path
    document: Path
    values: dict[str, float]
    texts: dict[str, str]


def _publish(
    form: Form, layout: Layout, folder: Path, unit: str, *, year: int = 2025, seed: int = 7
) -> Published:
    values = consistent_figures(form, random.Random(seed))
    texts = sample_texts(unit, values)
    folder.mkdir(parents=True, exist_ok=True)
    src = fill(template_bytes(year, UnitInfo(unit)), folder / f"{unit}.xlsx", layout, values, texts)
    document = write_report(src, folder / f"{unit}{year}年报告.docx")[0]
    return Published(src, document, values, texts)


def _read(path: Path, form: Form):
    return report_from_published(open_returned(path), path.name, form)


@pytest.fixture
def published(form: Form, layout: Layout, tmp_path: Path) -> Published:
    return _publish(form, layout, tmp_path, "群科镇")


def _row(document: docx.document.Document, form: Form, row_ref: str):
    """The .docx table row of a form row (1-based number in its table) and its figure cells."""
    table_id = row_ref.split(".")[0]
    table = document.tables[[t.id for t in form.tables].index(table_id)]
    fields = form.fields_of_row(row_ref)
    label = fields[0].row_label
    for number, row in enumerate(table.rows, start=1):
        if label in (c.text for c in row.cells):
            return number, row.cells[-len(fields) :]
    raise AssertionError(f"{row_ref} not in the document")


def _edit(path: Path, change) -> Path:
    """The .docx at `path` changed by `change(document)`, saved in place."""
    document = docx.Document(str(path))
    change(document)
    document.save(str(path))
    return path


def _set(cell, text: str) -> None:
    cell.paragraphs[0].runs[0].text = text


def test_docx_reads_as_the_workbook_does(published: Published, form: Form) -> None:
    opened = open_returned(published.document)
    assert looks_published(opened)
    report = report_from_published(opened, "报告.docx", form)
    workbook = read_unit(published.workbook, form)
    assert report.file == "报告.docx" and report.sha256 == opened.sha256
    ident, wb_ident = report.identity, workbook.identity
    assert (ident.unit, ident.year, ident.form_id, ident.form_version) == (
        wb_ident.unit,
        wb_ident.year,
        wb_ident.form_id,
        wb_ident.form_version,
    )
    assert ident.source == "published"
    assert report.parsed == {
        fid: p.__class__(p.value, "ok", p.value) for fid, p in workbook.parsed.items()
    }
    assert report.values == workbook.values == {f.id: published.values[f.id] for f in form.inputs}
    assert set(report.texts) == set(workbook.texts)
    for tid in ("unit", "s1", "s5", "s6"):
        assert report.texts[tid] == workbook.texts[tid] == published.texts.get(tid, "群科镇")
    computed = form.compute(published.values)
    assert report.stored == {f.id: computed[f.id] for f in form.totals}
    assert (report.issues, report.readable, report.cells) == ([], True, {})
    assert [i for i in evaluate(report, form, expected_year=2025) if i.is_error] == []


def test_missing_row_is_an_error_with_its_place(published: Published, form: Form) -> None:
    def drop(document) -> None:
        tr = _row(document, form, "t3.refused_repeat")[1][0]._tc.getparent()
        tr.getparent().remove(tr)

    report = _read(_edit(published.document, drop), form)
    assert [(i.code, i.severity) for i in report.issues] == [(CODE, ERROR)]
    assert "表三" in report.issues[0].message and "2. 重复申请" in report.issues[0].message
    assert "t3.refused_repeat.natural" not in report.parsed
    assert not report.readable
    assert [i.code for i in evaluate(report, form) if i.is_error] == [CODE]


def test_number_that_does_not_parse_names_its_row(published: Published, form: Form) -> None:
    number = _row(docx.Document(str(published.document)), form, "t3.new")[0]
    _edit(published.document, lambda d: _set(_row(d, form, "t3.new")[1][0], "约12"))
    report = _read(published.document, form)
    assert [(i.code, i.severity) for i in report.issues] == [(CODE, ERROR)]
    assert f"表三第{number}行" in report.issues[0].message and "约12" in report.issues[0].message
    assert "t3.new.natural" not in report.parsed and not report.readable


def test_placeholder_is_read_as_zero_with_a_hint(published: Published, form: Form) -> None:
    _edit(published.document, lambda d: _set(_row(d, form, "t2.license")[1][0], "/"))
    report = _read(published.document, form)
    assert [(i.code, i.severity) for i in report.issues] == [(CODE, HINT)]
    assert report.values["t2.license.decisions"] == 0 and report.readable


def test_old_form_table_is_not_read(published: Published, form: Form) -> None:
    def old(document) -> None:  # the 2019 trial form's column of 表二
        header = document.tables[[t.id for t in form.tables].index("t2")].rows[1].cells[1]
        _set(header, "本年新制作数量")

    report = _read(_edit(published.document, old), form)
    assert [(i.code, i.severity) for i in report.issues] == [(CODE, ERROR)]
    assert "2019年试行格式" in report.issues[0].message
    assert not any(fid.startswith("t2.") for fid in report.parsed)
    assert not report.readable
    assert report.values["t3.new.natural"] == published.values["t3.new.natural"]


def test_published_total_that_disagrees_is_a_total_error(published: Published, form: Form) -> None:
    total = form.compute(published.values)["t3.results_total.natural"]
    _edit(
        published.document,
        lambda d: _set(_row(d, form, "t3.results_total")[1][0], show(total + 2)),
    )
    report = _read(published.document, form)
    assert report.issues == [] and report.stored["t3.results_total.natural"] == total + 2
    errors = [i for i in evaluate(report, form) if i.is_error]
    assert [i.code for i in errors] == ["T3_TOTAL_ROW"]
    assert show(total + 2) in errors[0].message


def test_html_page_fixture(form: Form) -> None:
    opened = open_bytes((FIXTURES / "gandu-2025-page.html").read_bytes())
    assert opened.format == Format.HTML and looks_published(opened)
    report = report_from_published(opened, "page.html", form)
    assert (report.unit, report.identity.year) == ("甘都镇", 2025)
    assert report.values["t2.license.decisions"] == 37 and report.readable
    assert [(i.severity, "表二第11行" in i.message) for i in report.issues] == [(HINT, True)]


def test_spreadsheet_saved_as_web_page_is_not_published(form: Form) -> None:
    page = (FIXTURES / "gandu-2025-page.html").read_bytes()
    excel = page.replace(b"office:word", b"office:excel", 1)
    assert not looks_published(open_bytes(excel))
    assert not looks_published(
        open_bytes(b"<html><body><p>\xe9\x80\x9a\xe7\x9f\xa5</p></body></html>")
    )


@pytest.mark.libreoffice
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) 未安装")
def test_workbook_exported_as_html_is_not_published(published: Published, tmp_path) -> None:
    page = convert(published.workbook, "html", tmp_path / "html")
    opened = open_bytes(page.read_bytes())
    assert opened.format == Format.HTML and not looks_published(opened)


def test_word_document_that_is_no_report(form: Form) -> None:
    document = docx.Document()
    document.add_paragraph("关于报送年度报告的说明")
    document.add_paragraph("我单位年度报告已随函报送，请查收。")
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(FileProblem) as exc:
        report_from_published(open_bytes(buffer.getvalue()), "说明.docx", form)
    assert exc.value.code == "FILE_NOT_FORM" and "Word 文档" in exc.value.message
    with pytest.raises(FileProblem) as exc:
        report_from_published(Opened(Format.DOCX, b"PK\x03\x04junk", "", 8), "坏.docx", form)
    assert exc.value.code == "FILE_CORRUPT"


def test_last_years_published_folder(form: Form, layout: Layout, tmp_path: Path) -> None:
    folder = tmp_path / "2024"
    units = {"群科镇": 3, "甘都镇": 4}
    last = {u: _publish(form, layout, folder, u, year=2024, seed=s) for u, s in units.items()}
    for unit, pub in last.items():
        report = _read(pub.document, form)
        workbook = read_unit(pub.workbook, form)
        assert (report.unit, report.identity.year) == (unit, 2024)
        assert report.values == workbook.values and not report.issues
        pub.workbook.unlink()  # the folder keeps last year's published reports only
    this_year = _publish(form, layout, tmp_path / "2025", "群科镇", seed=9)
    now = read_unit(this_year.workbook, form)
    previous = _read(last["群科镇"].document, form)
    carried = now.values["t3.carried.natural"]
    carry_next = previous.values["t3.carry_next.natural"]
    codes = [i.code for i in evaluate(now, form, previous=previous) if i.is_error]
    assert ("PREV_CARRY" in codes) == (carried != carry_next)
    _check_load_previous(folder, last, form)


def _check_load_previous(folder: Path, last: dict[str, Published], form: Form) -> None:
    """`--previous FOLDER` of .docx: the reader reads Word documents as published reports."""
    loaded = load_previous(folder, form)
    assert set(loaded) == set(last)
    for unit, pub in last.items():
        assert loaded[unit].values == {f.id: pub.values[f.id] for f in form.inputs}
