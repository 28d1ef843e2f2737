"""Find a table's value cells in a sheet grid: at the template's addresses, or by its labels."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

from nianbao.form import Form, Layout, Table
from nianbao.form.layout import Label

Grid = Sequence[Sequence[object]]
EXACT, SHIFTED, UNCERTAIN = "exact", "shifted", "uncertain"


def norm(value: object) -> str:
    """Label text compared loosely: NFKC (full-width → half-width), no white space."""
    return _norm_text(value if isinstance(value, str) else str(value))


@lru_cache(maxsize=8192)  # every file repeats the same labels: normalise each text once
def _norm_text(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def at(grid: Grid, row: int, col: int) -> object:
    if 0 <= row < len(grid) and 0 <= col < len(grid[row]):
        return grid[row][col]
    return None


@dataclass
class Located:
    table: Table
    status: str
    cells: dict[str, tuple[int, int]] = field(default_factory=dict)
    differing: list[Label] = field(default_factory=list)  # labels not at their place
    missing: list[str] = field(default_factory=list)  # labels not found at all


def locate_table(grid: Grid, table: Table, form: Form, lay: Layout) -> Located:
    labels, cells = _template_of(table, form, lay)
    differing = [lab for lab, text, key in labels if not _same(grid, lab, text, key)]
    if not differing:
        return Located(table, EXACT, cells)  # shared by every exact file: never modified
    found = _search(grid, table, form)
    found.differing = differing
    return found


Template = tuple[list[tuple[Label, str, str]], dict[str, tuple[int, int]]]


def _template_of(table: Table, form: Form, lay: Layout) -> Template:
    """The labels to compare (with normalised text) and the template's cells, once per table."""
    return _template(form, lay, table.id)  # keyed by id: hashing a Table hashes all its labels


@cache  # Form and Layout hash by identity
def _template(form: Form, lay: Layout, table_id: str) -> Template:
    table = form.table(table_id)
    labels = [(lab, lab.text, norm(lab.text)) for lab in lay.labels_of(table.sheet)]
    cells = {
        f.id: (lay.fields[f.id].row, lay.fields[f.id].col)
        for f in form.fields
        if f.table == table.id
    }
    return [x for x in labels if x[0].role != "check"], cells


def _same(grid: Grid, lab: Label, text: str, key: str) -> bool:
    """The label's cell holds its text (compared as typed first: normalising costs more)."""
    row, col = lab.cell.row, lab.cell.col
    value = grid[row][col] if row < len(grid) and col < len(grid[row]) else None
    return value == text or norm(value) == key


def _index(grid: Grid) -> dict[str, list[tuple[int, int]]]:
    where: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if isinstance(value, str) and value.strip():
                where[norm(value)].append((r, c))
    return where


def _search(grid: Grid, table: Table, form: Form) -> Located:
    everything = _index(grid)
    out = Located(table, SHIFTED)
    for block, where in zip(table.blocks, _regions(table, everything, out)):
        cols = _column_positions(block, where, out)
        rows = _row_positions(block, where, out, cols)
        for r in block.rows:
            for c in block.columns:
                if r.id in rows and c.id in cols:
                    out.cells[f"{table.id}.{r.id}.{c.id}"] = (rows[r.id], cols[c.id])
    if out.missing or len(out.cells) != sum(1 for f in form.fields if f.table == table.id):
        out.status = UNCERTAIN
    return out


def _regions(table: Table, where: dict[str, list[tuple[int, int]]], out: Located) -> list[dict]:
    """Each block's part of the sheet: from its own header row to the next block's header."""
    starts = []
    for block in table.blocks:
        hits = where.get(norm(block.header), []) if block.header else [(0, 0)]
        if len(hits) != 1:
            out.missing.append(block.header)
            hits = [(0, 0)]
        starts.append(hits[0][0])
    ends = [*starts[1:], 1 << 30]
    return [
        {k: [rc for rc in v if lo <= rc[0] < hi] for k, v in where.items()}
        for lo, hi in zip(starts, ends)
    ]


def _column_positions(block, where, out: Located) -> dict[str, int]:
    """k-th declared column with a leaf label ↔ k-th occurrence of that label, left to right."""
    cols: dict[str, int] = {}
    seen: dict[str, int] = defaultdict(int)
    leaves: dict[str, int] = defaultdict(int)
    for c in block.columns:
        leaves[norm(c.label)] += 1
    for c in block.columns:
        key = norm(c.label)
        hits = sorted(where.get(key, []), key=lambda rc: (rc[1], rc[0]))
        if len(hits) != leaves[key]:
            out.missing.append(c.label)
            continue
        cols[c.id] = hits[seen[key]][1]
        seen[key] += 1
    return cols


def _row_positions(block, where, out: Located, cols: dict[str, int]) -> dict[str, int]:
    rows: dict[str, int] = {}
    for r in block.rows:
        if not r.path:
            header_rows = [rc[0] for c in block.columns for rc in where.get(norm(c.label), [])]
            if header_rows:
                rows[r.id] = max(header_rows) + 1
            continue
        hits = where.get(norm(r.label), [])
        if len(hits) == 1:
            rows[r.id] = hits[0][0]
        else:
            out.missing.append(r.label)
    return rows


def table_region(grid: Grid, table: Table, form: Form) -> Grid:
    """The rows from the table's title to the next table's title (other rows blanked).

    A sheet holding several tables (an HTML page, tables pasted into one sheet) is searched
    table by table, so that labels shared by two tables (总计, 结果维持) stay unambiguous.
    """
    titles = {norm(t.title): t.id for t in form.tables}
    starts = sorted(
        (r, titles[norm(v)])
        for r, row in enumerate(grid)
        for v in row
        if isinstance(v, str) and norm(v) in titles
    )
    own = [r for r, tid in starts if tid == table.id]
    if len(own) != 1:
        return grid
    ends = [r for r, tid in starts if r > own[0] and tid != table.id]
    end = min(ends, default=len(grid))
    return [row if own[0] <= r < end else [] for r, row in enumerate(grid)]


def find_label(grids: dict[str, Grid], text: str) -> tuple[str, int, int] | None:
    """The one cell (sheet, row, col) whose text is `text`; None when absent or ambiguous."""
    key = norm(text)
    hits = [
        (sheet, r, c)
        for sheet, grid in grids.items()
        for r, row in enumerate(grid)
        for c, v in enumerate(row)
        if isinstance(v, str) and norm(v) == key
    ]
    return hits[0] if len(hits) == 1 else None


def text_cells(grids: dict[str, Grid], form: Form, lay: Layout) -> dict[str, tuple[str, int, int]]:
    """Where each header and text section is typed: the template's place, else by its label."""
    front = grids.get(form.front_sheet)
    out: dict[str, tuple[str, int, int]] = {}
    for tid, tc in lay.texts.items():
        label = form.text_fields[tid].label
        header = tid in {h.id for h in form.headers}
        lab_row = tc.cell.row if header else tc.cell.row - 1
        if front is not None and norm(at(front, lab_row, 0)) == norm(label):
            out[tid] = (form.front_sheet, tc.cell.row, tc.cell.col)
            continue
        hit = find_label(grids, label)
        if hit is not None:
            sheet, r, c = hit
            out[tid] = (
                (sheet, r, _first_filled(grids[sheet], r, c)) if header else (sheet, r + 1, c)
            )
    return out


def _first_filled(grid: Grid, row: int, col: int) -> int:
    """The first non-empty cell right of a header label (merged labels leave blanks)."""
    for c in range(col + 1, len(grid[row]) if row < len(grid) else 0):
        if at(grid, row, c) not in (None, ""):
            return c
    return col + 1
