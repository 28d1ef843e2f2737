"""Where every label, input, total and check of a form stands in the workbook.

The one place that computes cell addresses. Template writing, reading and messages all ask
the layout; nothing else knows that a figure sits in D12.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType

from nianbao.form.model import Axis, Block, Form, Rule, Table

FRONT_COLUMNS = 8
FRONT_WIDTHS = (16.0,) + (12.0,) * (FRONT_COLUMNS - 1)
CHAR_WIDTH = 1.9  # column-width units one bold CJK character of the 10 pt font needs
LINE_HEIGHT = 14  # points per wrapped line of that font


def col_letter(col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@cache  # called for every figure of every file read
def a1(row: int, col: int) -> str:
    return f"{col_letter(col)}{row + 1}"


def cell_index(address: str) -> tuple[int, int]:
    """D5 (or $D$5) → (4, 3), the inverse of a1."""
    m = _A1.fullmatch(address)
    if m is None:
        raise ValueError(address)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


_A1 = re.compile(r"\$?([A-Za-z]+)\$?([0-9]+)")


def quote_sheet(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


@dataclass(frozen=True)
class Cell:
    sheet: str
    row: int
    col: int

    @property
    def a1(self) -> str:
        return a1(self.row, self.col)

    @property
    def ref(self) -> str:
        return f"{self.sheet}!{self.a1}"


@dataclass(frozen=True)
class Label:
    """A fixed text of the form, possibly merged over a range."""

    cell: Cell
    text: str
    role: str
    last_row: int
    last_col: int

    @property
    def merged(self) -> bool:
        return (self.last_row, self.last_col) != (self.cell.row, self.cell.col)


@dataclass(frozen=True)
class TextCell:
    id: str
    cell: Cell
    last_col: int
    height: int


@dataclass(frozen=True)
class Check:
    """An in-sheet check cell: one column of a rows_balance rule."""

    rule: Rule
    cell: Cell
    column: Axis
    lhs: tuple[str, ...]
    rhs: tuple[str, ...]


@dataclass(frozen=True)
class SheetSpec:
    name: str
    landscape: bool
    widths: tuple[float, ...]
    heights: Mapping[int, float] = field(default_factory=dict)  # read-only once laid out
    repeat_rows: tuple[int, int] = (0, 0)

    @property
    def n_cols(self) -> int:
        return len(self.widths)


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, like the Form it lays out
class Layout:
    """Every cell of a form; shared by all callers (layout_for is cached), hence read-only."""

    form: Form
    sheets: tuple[SheetSpec, ...]
    labels: tuple[Label, ...]
    fields: Mapping[str, Cell]
    texts: Mapping[str, TextCell]
    checks: tuple[Check, ...]
    title: Cell | None = None
    overall_check: Cell | None = None

    def sheet(self, name: str) -> SheetSpec:
        return next(s for s in self.sheets if s.name == name)

    def labels_of(self, sheet: str) -> list[Label]:
        return [lab for lab in self.labels if lab.cell.sheet == sheet]

    def describe(self, field_id: str, cell: str | None = None, address: bool = True) -> str:
        """表三「一、本年新收政府信息公开申请数量」行「自然人」列（D8）.

        `cell` is the address shown (where a returned file holds the figure; default the
        template's); `address=False` leaves the address out.
        """
        f = self.form.by_id[field_id]
        parts = [self.form.table(f.table).short]
        if f.row.label:
            parts.append(f"「{f.row.label}」行")
        parts.append(f"「{f.column_name}」列")
        if address:
            parts.append(f"（{cell or self.fields[field_id].a1}）")
        return "".join(parts)


@dataclass
class _Draft:
    """A layout while it is being built; frozen by layout_for."""

    form: Form
    sheets: list[SheetSpec] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    fields: dict[str, Cell] = field(default_factory=dict)
    texts: dict[str, TextCell] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    title: Cell | None = None
    overall_check: Cell | None = None

    def sheet(self, name: str) -> SheetSpec:
        return next(s for s in self.sheets if s.name == name)

    def heights(self, name: str) -> dict[int, float]:
        return self.sheet(name).heights  # type: ignore[return-value]  # a dict until frozen

    def freeze(self) -> Layout:
        return Layout(
            self.form,
            tuple(replace(s, heights=MappingProxyType(dict(s.heights))) for s in self.sheets),
            tuple(self.labels),
            MappingProxyType(self.fields),
            MappingProxyType(self.texts),
            tuple(self.checks),
            self.title,
            self.overall_check,
        )


@cache
def layout_for(form: Form) -> Layout:
    lay = _Draft(form)
    _front_sheet(lay)
    for table in form.tables:
        _table_sheet(lay, table)
    return lay.freeze()


def _add_label(
    lay: _Draft,
    sheet: str,
    r: int,
    c: int,
    text: str,
    role: str,
    r2: int | None = None,
    c2: int | None = None,
) -> None:
    lay.labels.append(
        Label(Cell(sheet, r, c), text, role, r if r2 is None else r2, c if c2 is None else c2)
    )


def _front_sheet(lay: _Draft) -> None:
    form, name, last = lay.form, lay.form.front_sheet, FRONT_COLUMNS - 1
    heights: dict[int, float] = {0: 36}
    lay.sheets.append(SheetSpec(name, False, FRONT_WIDTHS, heights))
    lay.title = Cell(name, 0, 0)
    row = 1
    for header in form.headers:
        _add_label(lay, name, row, 0, header.label, "header")
        lay.texts[header.id] = TextCell(header.id, Cell(name, row, 1), last, 22)
        heights[row] = 22
        row += 1
    row += 1
    _add_label(lay, name, row, 0, "校验结果", "check")
    lay.overall_check = Cell(name, row, 1)
    heights[row] = 22
    row += 2
    for text in form.texts:
        _add_label(lay, name, row, 0, text.label, "text", row, 2)
        if text.hint:
            _add_label(lay, name, row, 3, text.hint, "hint", row, last)
        heights[row] = 30
        lay.texts[text.id] = TextCell(text.id, Cell(name, row + 1, 0), last, text.height)
        heights[row + 1] = text.height
        row += 3


def _table_sheet(lay: _Draft, table: Table) -> None:
    depth = max(b.label_depth for b in table.blocks)
    n_values = max(len(b.columns) for b in table.blocks)
    heights: dict[int, float] = {0: 30}
    widths = _table_widths(depth, n_values)
    lay.sheets.append(SheetSpec(table.sheet, table.landscape, widths, heights))
    _add_label(lay, table.sheet, 0, 0, table.title, "title", 0, depth + n_values - 1)
    row = 1
    for block in table.blocks:
        row = _block(lay, table, block, row, depth)
    for r in range(1, row):
        heights.setdefault(r, 20)


def _table_widths(depth: int, n_values: int) -> tuple[float, ...]:
    if depth == 3:
        labels = [8.0, 14.0, 40.0]
    elif depth == 0:
        labels = []
    else:
        labels = [24.0] * depth
    value = 16.0 if n_values <= 3 else (11.0 if n_values <= 7 else 8.5)
    return tuple(labels + [value] * n_values)


def _block(lay: _Draft, table: Table, block: Block, row: int, depth: int) -> int:
    sheet, width = table.sheet, depth + len(block.columns)
    if block.header:
        _add_label(lay, sheet, row, 0, block.header, "block_header", row, width - 1)
        row += 1
    h = block.header_depth
    if depth and block.corner:
        _add_label(lay, sheet, row, 0, block.corner, "corner", row + h - 1, depth - 1)
        if len(block.corner) > 20:
            for header_row in range(row, row + h):
                lay.heights(sheet)[header_row] = 40
    _column_headers(lay, sheet, block, row, depth)
    row += h
    _row_labels(lay, sheet, block, row, depth)
    for i, r in enumerate(block.rows):
        for j, c in enumerate(block.columns):
            lay.fields[f"{table.id}.{r.id}.{c.id}"] = Cell(sheet, row + i, depth + j)
        if any(len(p) > 30 for p in r.path):
            lay.heights(sheet)[row + i] = 32
    row += len(block.rows)
    for rule in lay.form.rules:
        if rule.kind == "rows_balance" and rule.get("table") == table.id and rule.get("in_sheet"):
            row = _check_row(lay, table, block, rule, row, depth)
    return row


def _spans(paths: list[tuple[str, ...]], level: int) -> list[tuple[int, int]]:
    """Runs [start, end] of consecutive items sharing the path prefix up to `level`."""
    runs: list[tuple[int, int]] = []
    for i, p in enumerate(paths):
        if len(p) <= level:
            continue
        if runs and i == runs[-1][1] + 1 and paths[runs[-1][0]][: level + 1] == p[: level + 1]:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _column_headers(lay: _Draft, sheet: str, block: Block, row: int, depth: int) -> None:
    paths = [c.path for c in block.columns]
    h = block.header_depth
    for level in range(h):
        for start, end in _spans(paths, level):
            leaf = len(paths[start]) == level + 1
            last_row = row + (h - 1 if leaf else level)
            text = paths[start][level]
            _add_label(
                lay, sheet, row + level, depth + start, text, "column", last_row, depth + end
            )
            if last_row == row + level:
                _fit_height(lay, sheet, row + level, text, (depth + start, depth + end))


def _fit_height(lay: _Draft, sheet: str, row: int, text: str, cols: tuple[int, int]) -> None:
    """Give a one-row label the lines it wraps to: wrapped text never grows a row by itself."""
    width = sum(lay.sheet(sheet).widths[cols[0] : cols[1] + 1])
    lines = -(-len(text) * CHAR_WIDTH // width)  # ceiling division
    if lines > 1:
        heights = lay.heights(sheet)
        heights[row] = max(heights.get(row, 0), LINE_HEIGHT * lines + 4)


def _row_labels(lay: _Draft, sheet: str, block: Block, row: int, depth: int) -> None:
    paths = [r.path for r in block.rows]
    for level in range(depth):
        for start, end in _spans(paths, level):
            leaf = len(paths[start]) == level + 1
            _add_label(
                lay,
                sheet,
                row + start,
                level,
                paths[start][level],
                "row",
                row + end,
                depth - 1 if leaf else level,
            )


def _check_row(lay: _Draft, table: Table, block: Block, rule: Rule, row: int, depth: int) -> int:
    _add_label(
        lay,
        table.sheet,
        row,
        0,
        rule.get("check_label", rule.code),
        "check",
        row,
        max(depth - 1, 0),
    )
    lay.heights(table.sheet)[row] = 30
    for j, col in enumerate(block.columns):
        lhs = tuple(f"{table.id}.{r}.{col.id}" for r in rule.get("lhs"))
        rhs = tuple(f"{table.id}.{r}.{col.id}" for r in rule.get("rhs"))
        lay.checks.append(Check(rule, Cell(table.sheet, row, depth + j), col, lhs, rhs))
    return row + 1
