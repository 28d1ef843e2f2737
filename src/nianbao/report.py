"""Workbook → the unit's published annual report as a Word document (and PDF through LibreOffice).

Every heading, label and merged header comes from the form declaration and its layout: the tables
are drawn from the same labels, spans and column widths the template uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docx
from docx.document import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Pt

from nianbao.atomic import write_atomic
from nianbao.files import FileProblem
from nianbao.form import Form, Layout, Table, layout_for, load_form
from nianbao.form.model import TextField
from nianbao.numbers import show
from nianbao.office import convert
from nianbao.reader import read_unit
from nianbao.report_docx import (
    BODY,
    HEADING,
    TABLE,
    TABLE_SMALL,
    TITLE,
    keep_row_together,
    paragraph,
    register_fonts,
    repeat_header,
    setup_page,
    text_width,
    write_cell,
)

NUMERALS = "一二三四五六七八九十"
SMALL_TABLE_COLUMNS = 5  # wider tables use the smaller table font


class ReportError(Exception):
    """The workbook cannot give a report (unreadable, or no year); message in Chinese."""


@dataclass(frozen=True)
class ReportData:
    """What a report shows: identity, every field (totals recomputed) and the texts."""

    unit: str
    year: int
    values: dict[str, float]
    texts: dict[str, str]


@dataclass
class _Item:
    """A label or a value placed on the report table grid (rows counted without gaps)."""

    row: int
    col: int
    last_row: int
    last_col: int
    text: str
    role: str


def section_of(label: str) -> int | None:
    """Position of a numbered section 「三、…」 in the report, None for other texts."""
    if len(label) > 1 and label[0] in NUMERALS and label[1] == "、":
        return NUMERALS.index(label[0])
    return None


def sections(form: Form) -> list[TextField | Table]:
    """The six sections in official order: the numbered text fields and the tables."""
    items: list[tuple[int, TextField | Table]] = []
    for text in form.texts:
        pos = section_of(text.label)
        if pos is not None:
            items.append((pos, text))
    for table in form.tables:
        pos = section_of(table.title)
        items.append((NUMERALS.index("十") + 1 if pos is None else pos, table))
    return [item for _, item in sorted(items, key=lambda pair: pair[0])]


def report_data(path: Path, form: Form | None = None) -> ReportData:
    """Read a return or summary workbook; raise ReportError when it cannot give a report."""
    form = form or load_form()
    try:
        unit = read_unit(Path(path), form)
    except FileProblem as exc:
        raise ReportError(exc.message) from None
    if not unit.readable:
        raise ReportError(
            "工作簿中的表格无法确定数字位置，不能生成报告。请先用 nianbao check 检查。"
        )
    if unit.identity.year is None:
        raise ReportError("无法确定报告年度（工作簿缺少模板标识和标题中的年度）。")
    return ReportData(unit.unit, unit.identity.year, form.compute(unit.values), unit.texts)


def build_document(data: ReportData, form: Form | None = None) -> Document:
    """The report as a python-docx Document."""
    form = form or load_form()
    doc = docx.Document()
    _base_style(doc)
    setup_page(doc)
    register_fonts(doc, [TITLE, HEADING, BODY])
    title = form.title_for(data.unit, data.year)
    doc.core_properties.title = title
    doc.core_properties.subject = form.name
    doc.core_properties.comments = form.basis
    doc.core_properties.author = data.unit
    doc.core_properties.last_modified_by = data.unit
    doc.core_properties.created = doc.core_properties.modified = datetime.now()
    paragraph(doc, title, TITLE, align=WD_ALIGN_PARAGRAPH.CENTER, exact_line=False, space_after=16)
    lay = layout_for(form)
    for item in sections(form):
        if isinstance(item, Table):
            paragraph(doc, item.title, HEADING, keep_next=True, space_before=8)
            _add_table(doc, form, lay, item, data.values)
        else:
            paragraph(doc, item.label, HEADING, keep_next=True, space_before=8)
            for line in _paragraphs(data.texts.get(item.id, "")):
                paragraph(doc, line, BODY, indent=True)
    return doc


def write_report(
    src: Path, out: Path, *, pdf: bool = False, form: Form | None = None
) -> list[Path]:
    """Write the report of workbook `src` to `out` (.docx), and a PDF beside it when asked."""
    doc = build_document(report_data(src, form), form)
    out = Path(out)
    write_atomic(out, lambda tmp: doc.save(str(tmp)))
    written = [out]
    if pdf:
        written.append(convert(out, "pdf", out.parent))
    return written


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _base_style(doc: Document) -> None:
    """Normal style in the body font, language zh-CN, so empty paragraphs match the text."""
    style = doc.styles["Normal"]
    style.font.size = Pt(BODY.size)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:eastAsia"), BODY.name)
    fonts.set(qn("w:ascii"), "Times New Roman")
    fonts.set(qn("w:hAnsi"), "Times New Roman")
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    rpr.append(lang)


def table_items(form: Form, lay: Layout, table: Table, values: dict[str, float]) -> list[_Item]:
    """Labels and values of a table sheet on a gap-free grid, the last cell of a row stretched.

    The check row of the template is left out; a block narrower than the table (表二 （五）)
    gets its last column stretched to the table's right edge, as in the official format.
    """
    labels = [lab for lab in lay.labels_of(table.sheet) if lab.role not in ("title", "check")]
    cells = {f.id: lay.fields[f.id] for f in form.fields if f.table == table.id}
    used = {r for lab in labels for r in range(lab.cell.row, lab.last_row + 1)}
    used |= {c.row for c in cells.values()}
    index = {r: i for i, r in enumerate(sorted(used))}
    items = [
        _Item(
            index[lab.cell.row],
            lab.cell.col,
            index[lab.last_row],
            lab.last_col,
            lab.text,
            lab.role,
        )
        for lab in labels
    ]
    for fid, c in cells.items():
        items.append(_Item(index[c.row], c.col, index[c.row], c.col, show(values[fid]), "value"))
    _stretch(items, lay.sheet(table.sheet).n_cols - 1)
    return items


def _stretch(items: list[_Item], last: int) -> None:
    right: dict[int, int] = {}
    for it in items:
        for r in range(it.row, it.last_row + 1):
            right[r] = max(right.get(r, -1), it.last_col)
    for it in items:
        edge = max(right[r] for r in range(it.row, it.last_row + 1))
        if it.last_col == edge < last:
            it.last_col = last


def _add_table(
    doc: Document, form: Form, lay: Layout, table: Table, values: dict[str, float]
) -> None:
    spec = lay.sheet(table.sheet)
    items = table_items(form, lay, table, values)
    n_rows = max(it.last_row for it in items) + 1
    grid = doc.add_table(rows=n_rows, cols=spec.n_cols)
    grid.style = "Table Grid"
    grid.autofit = False
    grid.alignment = 1  # centred on the page
    scale = text_width() / sum(spec.widths)
    for col, width in zip(grid.columns, spec.widths):
        col.width = Emu(int(width * scale))
        for cell in col.cells:
            cell.width = Emu(int(width * scale))
    font = TABLE if spec.n_cols <= SMALL_TABLE_COLUMNS else TABLE_SMALL
    for it in items:
        cell = grid.cell(it.row, it.col)
        if (it.last_row, it.last_col) != (it.row, it.col):
            cell = cell.merge(grid.cell(it.last_row, it.last_col))
        align = WD_ALIGN_PARAGRAPH.LEFT if it.role == "row" else WD_ALIGN_PARAGRAPH.CENTER
        write_cell(cell, it.text, font, align)
    for row in grid.rows:
        keep_row_together(row, font.size * 1.8)
    if len(table.blocks) == 1:
        first_value = min(it.row for it in items if it.role == "value")
        for row in grid.rows[:first_value]:
            repeat_header(row._tr)
