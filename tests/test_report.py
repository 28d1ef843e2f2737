"""`nianbao report`: workbook → published .docx in the official six-part structure."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docx.shared import Cm
from typer.testing import CliRunner

from nianbao.cli import app
from nianbao.form import Form, Table
from nianbao.numbers import show
from nianbao.office import find_soffice, render_png
from nianbao.report import ReportError, report_data, sections, write_report
from nianbao.report_docx import BODY, TITLE

NO_OFFICE = "LibreOffice (soffice) 未安装"


@pytest.fixture
def report_docx(make_return, tmp_path: Path) -> Path:
    src = make_return("群科镇", seed=5)
    return write_report(src, tmp_path / "报告.docx")[0]


def _heading_of(item: object) -> str:
    return item.title if isinstance(item, Table) else item.label  # type: ignore[attr-defined]


def test_sections_are_the_six_numbered_parts_in_order(form: Form) -> None:
    labels = [_heading_of(item) for item in sections(form)]
    assert [label[0] for label in labels] == list("一二三四五六")
    assert {t.title for t in form.tables} <= set(labels)


def test_title_headings_and_texts_in_order(report_docx: Path, make_return, form: Form) -> None:
    doc = docx.Document(str(report_docx))
    paras = [p.text for p in doc.paragraphs if p.text]
    data = report_data(make_return("群科镇", seed=5))
    assert paras[0] == form.title_for("群科镇", 2025)
    headings = [_heading_of(item) for item in sections(form)]
    positions = [paras.index(h) for h in headings]
    assert positions == sorted(positions)
    assert data.texts["s6"] in paras
    assert paras.index(data.texts["s6"]) > paras.index(headings[-1])


def test_tables_show_every_figure_with_totals(report_docx: Path, make_return, form) -> None:
    doc = docx.Document(str(report_docx))
    data = report_data(make_return("群科镇", seed=5))
    assert len(doc.tables) == len(form.tables)
    t3 = doc.tables[[t.id for t in form.tables].index("t3")]
    row = next(r for r in t3.rows if r.cells[0].text == form.by_id["t3.new.total"].row_label)
    figures = [c.text for c in row.cells[-7:]]
    expected = [show(data.values[f.id]) for f in form.fields_of_row("t3.new")]
    assert figures == expected
    assert data.values["t3.new.total"] == sum(
        data.values[p] for p in form.by_id["t3.new.total"].sum_of
    )


def test_merged_headers_follow_the_layout(report_docx: Path, form: Form, layout) -> None:
    doc = docx.Document(str(report_docx))
    t3 = doc.tables[[t.id for t in form.tables].index("t3")]
    corner = next(lab for lab in layout.labels_of("表三") if lab.role == "corner")
    first = t3.rows[0]._tr.tc_lst[0]
    assert first.grid_span == corner.last_col - corner.cell.col + 1
    assert t3.cell(0, 0).text == corner.text  # the 勾稽关系 note
    assert t3.cell(corner.last_row - corner.cell.row, 0).text == corner.text  # merged down
    # 表二（五）: the one value column is stretched to the table's right edge
    t2 = doc.tables[[t.id for t in form.tables].index("t2")]
    row = next(
        r for r in t2.rows if r.cells[0].text == form.by_id["t2.license.decisions"].row_label
    )
    assert len(row._tr.tc_lst) == 2
    assert row._tr.tc_lst[1].grid_span == len(t2.columns) - 1


def test_fonts_and_page_of_official_documents(report_docx: Path) -> None:
    doc = docx.Document(str(report_docx))
    section = doc.sections[0]
    assert abs(section.page_width - Cm(21)) < Cm(0.01)
    assert abs(section.top_margin - Cm(3.7)) < Cm(0.01)
    title = doc.paragraphs[0].runs[0]
    assert title._r.rPr.rFonts.get(qn("w:eastAsia")) == TITLE.name
    assert title.font.size.pt == TITLE.size
    body = next(p for p in doc.paragraphs if p.paragraph_format.first_line_indent)
    assert body.runs[0]._r.rPr.rFonts.get(qn("w:eastAsia")) == BODY.name
    fonts = next(p for p in doc.part.package.iter_parts() if p.partname.endswith("fontTable.xml"))
    assert f'w:name="{BODY.name}"><w:altName w:val="{BODY.fallback}"/>' in fonts.blob.decode()


def test_not_a_workbook_is_a_chinese_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ReportError) as exc:
        write_report(bad, tmp_path / "r.docx")
    assert not (tmp_path / "r.docx").exists()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value))


def test_cli_report_writes_docx(make_return, tmp_path: Path) -> None:
    out = tmp_path / "out" / "报告.docx"
    result = CliRunner().invoke(app, ["report", str(make_return("群科镇")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert docx.Document(str(out)).paragraphs[0].text.startswith("群科镇2025年")


@pytest.mark.libreoffice
@pytest.mark.skipif(find_soffice() is None, reason=NO_OFFICE)
def test_renders_through_libreoffice(report_docx: Path, tmp_path: Path) -> None:
    pages = render_png(report_docx, tmp_path / "png", first_page_only=False, dpi=40)
    assert 2 <= len(pages) <= 5
    assert all(p.stat().st_size > 5000 for p in pages)


def test_readme_picture_exists() -> None:
    picture = Path(__file__).resolve().parents[1] / "templates" / "report-page1.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
