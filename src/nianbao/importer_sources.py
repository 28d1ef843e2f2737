"""A published report (.txt, .docx, .html) → lines of cells, each with its place in the document."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import docx
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement

_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_NUMBERING_SPACE = re.compile(r"(?<![\d.])(\d{1,2})\s*[.、\uff0e]\s+(?=[^\d\s])")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "section", "article", "table"}
)
# Page numbers of a printed page (「— 3 —」, 「-3-」, 「第3页」, 「第 3 页，共 5 页」).
_DASH = "—\\-\uff0d\u2013"
_PAGE_NUMBER = re.compile(
    rf"^(?:[{_DASH}]+\s*\d+\s*[{_DASH}]+|第\s*\d+\s*页(?:[，,]?\s*共\s*\d+\s*页)?)$"
)
_SKIP_TAGS = frozenset({"script", "style", "title", "head", "noscript"})


class SourceError(Exception):
    """The file is no report this importer can read; message in Chinese."""


@dataclass(frozen=True)
class Line:
    """One line of text or one table row, split into cells."""

    cells: tuple[str, ...]
    number: int  # line of the .txt, paragraph or table row counted in the document
    table_row: int = 0  # 1-based row inside its table (.docx/.html), 0 for running text
    unit: str = "行"  # how `number` counts: 行 (txt line) or 段 (paragraph)
    raw: str = ""  # the text as written (spaces kept), for the text sections

    @property
    def text(self) -> str:
        return (self.raw or " ".join(c for c in self.cells if c)).strip()

    def place(self, table_name: str = "") -> str:
        """「表三第5行」 for a table row of a document, 「第12行」 for a line of a .txt."""
        if self.table_row and table_name:
            return f"{table_name}第{self.table_row}行"
        if self.table_row:
            return f"第{self.number}个表格行"
        return f"第{self.number}{self.unit}"


def read_lines(path: Path) -> list[Line]:
    """Lines of a report file, by its extension (.txt/.docx/.html/.htm), without page numbers."""
    path = Path(path)
    return lines_from_bytes(path.read_bytes(), path.name)


def lines_from_bytes(data: bytes, name: str) -> list[Line]:
    """Lines of a report held in memory; `name` (its extension) says which kind it is."""
    return [ln for ln in _read_lines(data, Path(name).suffix) if not _PAGE_NUMBER.match(ln.text)]


def _read_lines(data: bytes, suffix: str) -> list[Line]:
    kind = suffix.lower()
    if kind == ".docx":
        return docx_lines(data)
    if kind in (".html", ".htm", ".mht", ".xhtml"):
        return html_lines(decode_html(data))
    if kind in (".txt", ".text", ""):
        return text_lines(decode_text(data))
    raise SourceError(f"不支持的文件类型「{suffix}」：请提供 .docx、.html 或 .txt 格式的年报。")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK/GB2312)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def decode_html(data: bytes) -> str:
    """Decode by the BOM, the meta charset, then UTF-8, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    match = _CHARSET.search(data[:4096])
    if match:
        name = match.group(1).decode("ascii").lower()
        if name in ("gbk", "gb2312", "gb_2312-80", "x-gbk", "gb18030"):
            name = "gb18030"
        try:
            return data.decode(name, errors="replace")
        except LookupError:
            pass
    return decode_text(data)


def split_cells(line: str) -> tuple[str, ...]:
    """Tab-separated cells as they are; otherwise cells split on spaces, numbering kept whole."""
    if "\t" in line:
        return tuple(cell.strip() for cell in line.split("\t"))
    joined = _NUMBERING_SPACE.sub(r"\1.", line.strip())
    return tuple(joined.split())


def text_lines(text: str) -> list[Line]:
    return [
        Line(split_cells(raw), n, raw=raw.strip())
        for n, raw in enumerate(text.splitlines(), start=1)
        if raw.strip()
    ]


def docx_lines(source: Path | bytes) -> list[Line]:
    """Paragraphs and table rows of the body, in document order."""
    doc = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        body = docx.Document(doc).element.body
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SourceError("Word 文档无法打开（可能已损坏或不是 .docx 格式）。") from exc
    lines: list[Line] = []
    counter = 0
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            counter += 1
            text = _element_text(child)
            if text.strip():
                lines.append(Line((text,), counter, unit="段", raw=text))
        elif child.tag == qn("w:tbl"):
            for r, tr in enumerate(child.iterchildren(qn("w:tr")), start=1):
                counter += 1
                cells = tuple(_tc_text(tc) for tc in tr.iterchildren(qn("w:tc")))
                if any(cells):
                    lines.append(Line(cells, counter, table_row=r))
    return lines


def _element_text(element: BaseOxmlElement) -> str:
    return "".join(t.text or "" for t in element.iter(qn("w:t")))


def _tc_text(tc: BaseOxmlElement) -> str:
    """A cell's text; a cell continuing a vertical merge is empty, as the eye sees it."""
    pr = tc.find(qn("w:tcPr"))
    merge = pr.find(qn("w:vMerge")) if pr is not None else None
    if merge is not None and merge.get(qn("w:val")) in (None, "continue"):
        return ""
    return _element_text(tc).strip()


class _HtmlLines(HTMLParser):
    """Running text as paragraphs, table rows as cells (innermost table wins)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[Line] = []
        self._text: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._rows_in_table: list[int] = []
        self._skip = 0
        self._count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "table":
            self._flush_text()
            self._rows_in_table.append(0)
        elif tag == "tr" and self._rows_in_table:
            self._end_row()
            self._row = []
            self._rows_in_table[-1] += 1
        elif tag in ("td", "th") and self._row is not None:
            self._end_cell()
            self._cell = []
        elif tag in _BLOCK_TAGS and self._cell is None:
            self._flush_text()
        elif tag == "br" and self._cell is not None:
            pass  # a line break inside a cell belongs to the same label

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table" and self._rows_in_table:
            self._end_row()
            self._rows_in_table.pop()
        elif tag in _BLOCK_TAGS and self._cell is None:
            self._flush_text()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        (self._cell if self._cell is not None else self._text).append(data)

    def close(self) -> None:
        super().close()
        self._end_row()
        self._flush_text()

    def _end_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None and any(self._row):
            self._count += 1
            row_number = self._rows_in_table[-1] if self._rows_in_table else 0
            self.lines.append(Line(tuple(self._row), self._count, table_row=row_number))
        self._row = None

    def _flush_text(self) -> None:
        text = re.sub(r"[ \t\r\n\xa0\u3000]+", " ", "".join(self._text)).strip()
        self._text = []
        if text:
            self._count += 1
            self.lines.append(Line((text,), self._count, unit="段", raw=text))


def html_lines(text: str) -> list[Line]:
    parser = _HtmlLines()
    parser.feed(text)
    parser.close()
    return parser.lines
