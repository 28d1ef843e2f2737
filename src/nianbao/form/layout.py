"""Where every label, input, total and check of a form stands in the workbook.

The one place that computes cell addresses. Template writing, reading and messages all ask
the layout; nothing else knows that a figure sits in D12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from nianbao.form.model import Axis, Block, Form, Rule, Table

FRONT_COLUMNS = 8
FRONT_WIDTHS = [16.0] + [12.0] * (FRONT_COLUMNS - 1)
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


@dataclass
class SheetSpec:
    name: str
    landscape: bool
    widths: list[float]
    heights: dict[int, float] = field(default_factory=dict)
    repeat_rows: tuple[int, int] = (0, 0)

    @property
    def n_cols(self) -> int:
        return len(self.widths)


@dataclass
class Layout:
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

    def labels_of(self, sheet: str) -> list[Label]:
        return [lab for lab in self.labels if lab.cell.sheet == sheet]

    def describe(self, field_id: str) -> str:
        """表三「一、本年新收政府信息公开申请数量」行「自然人」列（D8）."""
        f = self.form.by_id[field_id]
        cell = self.fields[field_id]
        table = self.form.table(f.table)
        parts = [table.short]
        if f.row.label:
            parts.append(f"「{f.row.label}」行")
        parts.append(f"「{f.column_name}」列（{cell.a1}）")
        return "".join(parts)


@cache
def layout_for(form: Form) -> Layout:
    lay = Layout(form)
    _front_sheet(lay)
    for table in form.tables:
        _table_sheet(lay, table)
    return lay


def _add_label(
    lay: Layout,
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


def _front_sheet(lay: Layout) -> None:
    form, name, last = lay.form, lay.form.front_sheet, FRONT_COLUMNS - 1
    spec = SheetSpec(name, False, list(FRONT_WIDTHS), {0: 36})
    lay.sheets.append(spec)
    lay.title = Cell(name, 0, 0)
    row = 1
    for header in form.headers:
        _add_label(lay, name, row, 0, header.label, "header")
        lay.texts[header.id] = TextCell(header.id, Cell(name, row, 1), last, 22)
        spec.heights[row] = 22
        row += 1
    row += 1
    _add_label(lay, name, row, 0, "校验结果", "check")
    lay.overall_check = Cell(name, row, 1)
    spec.heights[row] = 22
    row += 2
    for text in form.texts:
        _add_label(lay, name, row, 0, text.label, "text", row, 2)
        if text.hint:
            _add_label(lay, name, row, 3, text.hint, "hint", row, last)
        spec.heights[row] = 30
        lay.texts[text.id] = TextCell(text.id, Cell(name, row + 1, 0), last, text.height)
        spec.heights[row + 1] = text.height
        row += 3


def _table_sheet(lay: Layout, table: Table) -> None:
    depth = max(b.label_depth for b in table.blocks)
    n_values = max(len(b.columns) for b in table.blocks)
    spec = SheetSpec(table.sheet, table.landscape, _table_widths(depth, n_values), {0: 30})
    lay.sheets.append(spec)
    _add_label(lay, table.sheet, 0, 0, table.title, "title", 0, depth + n_values - 1)
    row = 1
    for block in table.blocks:
        row = _block(lay, table, block, row, depth)
    spec.repeat_rows = (0, 0)
    for r in range(1, row):
        spec.heights.setdefault(r, 20)


def _table_widths(depth: int, n_values: int) -> list[float]:
    if depth == 3:
        labels = [8.0, 14.0, 40.0]
    elif depth == 0:
        labels = []
    else:
        labels = [24.0] * depth
    value = 16.0 if n_values <= 3 else (11.0 if n_values <= 7 else 8.5)
    return labels + [value] * n_values


def _block(lay: Layout, table: Table, block: Block, row: int, depth: int) -> int:
    sheet, width = table.sheet, depth + len(block.columns)
    if block.header:
        _add_label(lay, sheet, row, 0, block.header, "block_header", row, width - 1)
        row += 1
    h = block.header_depth
    if depth and block.corner:
        _add_label(lay, sheet, row, 0, block.corner, "corner", row + h - 1, depth - 1)
        if len(block.corner) > 20:
            for r in range(row, row + h):
                lay.sheet(sheet).heights[r] = 40
    _column_headers(lay, sheet, block, row, depth)
    row += h
    _row_labels(lay, sheet, block, row, depth)
    for i, r in enumerate(block.rows):
        for j, c in enumerate(block.columns):
            lay.fields[f"{table.id}.{r.id}.{c.id}"] = Cell(sheet, row + i, depth + j)
        if any(len(p) > 30 for p in r.path):
            lay.sheet(sheet).heights[row + i] = 32
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


def _column_headers(lay: Layout, sheet: str, block: Block, row: int, depth: int) -> None:
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
                _fit_height(lay.sheet(sheet), row + level, text, depth + start, depth + end)


def _fit_height(spec: SheetSpec, row: int, text: str, first: int, last: int) -> None:
    """Give a one-row label the lines it wraps to: wrapped text never grows a row by itself."""
    width = sum(spec.widths[first : last + 1])
    lines = -(-len(text) * CHAR_WIDTH // width)  # ceiling division
    if lines > 1:
        spec.heights[row] = max(spec.heights.get(row, 0), LINE_HEIGHT * lines + 4)


def _row_labels(lay: Layout, sheet: str, block: Block, row: int, depth: int) -> None:
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


def _check_row(lay: Layout, table: Table, block: Block, rule: Rule, row: int, depth: int) -> int:
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
    lay.sheet(table.sheet).heights[row] = 30
    for j, col in enumerate(block.columns):
        lhs = tuple(f"{table.id}.{r}.{col.id}" for r in rule.get("lhs"))
        rhs = tuple(f"{table.id}.{r}.{col.id}" for r in rule.get("rhs"))
        lay.checks.append(Check(rule, Cell(table.sheet, row, depth + j), col, lhs, rhs))
    return row + 1
