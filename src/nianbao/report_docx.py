"""Word formatting of a Chinese official document (公文): page, fonts with fallbacks, tables."""

from __future__ import annotations

from dataclasses import dataclass

from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Row
from docx.shared import Cm, Pt
from docx.table import _Cell, _Row
from docx.text.paragraph import Paragraph
from docx.text.run import Run

LATIN_FONT = "Times New Roman"


@dataclass(frozen=True)
class Font:
    """An East Asian font, the font Word/LibreOffice should use where it is not installed."""

    name: str
    fallback: str
    size: float  # points
    family: str = "roman"


# GB/T 9704 公文: title 二号 小标宋, headings 三号 黑体, body 三号 仿宋_GB2312.
TITLE = Font("方正小标宋简体", "宋体", 22)
HEADING = Font("黑体", "SimHei", 16, "swiss")
BODY = Font("仿宋_GB2312", "仿宋", 16, "modern")
TABLE = Font("仿宋_GB2312", "仿宋", 10.5, "modern")
TABLE_SMALL = Font("仿宋_GB2312", "仿宋", 9, "modern")
PAGE_NUMBER = Font("宋体", "SimSun", 14)
# A second fallback for machines with neither font (fonts named in the document's font table).
SECOND_FALLBACK = {"仿宋": "FangSong", "宋体": "SimSun"}

BODY_LINE = Pt(28)  # 公文: 22 lines of 28 pt on a page
A4 = (Cm(21.0), Cm(29.7))
MARGINS = {"top": Cm(3.7), "bottom": Cm(3.5), "left": Cm(2.8), "right": Cm(2.6)}


def text_width() -> int:
    """Width of the text area in EMU (A4 minus the 公文 margins)."""
    return A4[0] - MARGINS["left"] - MARGINS["right"]


def setup_page(doc: Document) -> None:
    """A4 portrait with the 公文 margins and a centred 「— 1 —」 page number."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = A4
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.footer_distance = Cm(2.5)
    para = section.footer.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    set_font(para.add_run("— "), PAGE_NUMBER)
    _page_field(para)
    set_font(para.add_run(" —"), PAGE_NUMBER)


def _page_field(para: Paragraph) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = para.add_run("1")
    set_font(run, PAGE_NUMBER)
    field.append(run._r)
    para._p.append(field)


def set_font(run: Run, font: Font, bold: bool = False) -> None:
    """Set the East Asian font through w:rFonts w:eastAsia (python-docx sets only the Latin one)."""
    run.font.size = Pt(font.size)
    run.font.bold = bold
    run.font.name = LATIN_FONT
    rpr = run._r.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), font.name)
    fonts.set(qn("w:hint"), "eastAsia")


def register_fonts(doc: Document, fonts: list[Font]) -> None:
    """Declare each font in the font table with its fallback as w:altName (GB2312 charset)."""
    part = next(p for p in doc.part.package.iter_parts() if p.partname.endswith("/fontTable.xml"))
    entries = []
    seen: set[str] = set()
    for font in fonts:
        chain = [(font.name, font.fallback), (font.fallback, SECOND_FALLBACK.get(font.fallback))]
        for name, alt in chain:
            if name in seen:
                continue
            seen.add(name)
            alt_xml = f'<w:altName w:val="{alt}"/>' if alt else ""
            entries.append(
                f'<w:font w:name="{name}">{alt_xml}<w:charset w:val="86"/>'
                f'<w:family w:val="{font.family}"/><w:pitch w:val="fixed"/></w:font>'
            )
    blob = part.blob.decode("utf-8")
    part._blob = blob.replace("</w:fonts>", "".join(entries) + "</w:fonts>").encode("utf-8")


def paragraph(
    doc: Document,
    text: str,
    font: Font,
    *,
    align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.JUSTIFY,
    indent: bool = False,
    exact_line: bool = True,
    space_after: float = 0,
    space_before: float = 0,
    keep_next: bool = False,
) -> Paragraph:
    para = doc.add_paragraph()
    para.alignment = align
    fmt = para.paragraph_format
    if exact_line:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = BODY_LINE
    fmt.space_before = Pt(space_before)
    fmt.space_after = Pt(space_after)
    fmt.keep_with_next = keep_next
    if indent:
        fmt.first_line_indent = Pt(font.size * 2)
    set_font(para.add_run(text), font)
    return para


def write_cell(cell: _Cell, text: str, font: Font, align: WD_ALIGN_PARAGRAPH) -> None:
    """Write text into a (possibly merged) table cell: one paragraph, centred vertically."""
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    para = cell.paragraphs[0]
    for extra in cell.paragraphs[1:]:  # merging leaves one paragraph per merged cell
        extra._p.getparent().remove(extra._p)
    para.alignment = align
    para.paragraph_format.space_before = Pt(0)
    para.paragraph_format.space_after = Pt(0)
    para.paragraph_format.line_spacing = 1.0
    set_font(para.add_run(text), font)


def repeat_header(row_element: CT_Row) -> None:
    """Mark a table row as a header row repeated on every page the table spans."""
    trpr = row_element.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def keep_row_together(row: _Row, min_height: float) -> None:
    """Rows never break across pages and have room around one line of text."""
    row.height = Pt(min_height)
    row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
