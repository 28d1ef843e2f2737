"""The text of every formula and defined name a report workbook carries, from the layout.

Written by template.py and compared by formula_check.py; this module knows no workbook library.
"""

from __future__ import annotations

import re

from nianbao.form import Layout
from nianbao.form.layout import Cell, Check, quote_sheet

PASS, FAIL = "通过", "不通过"


def defined_name(key: str) -> str:
    """Workbook-level name of an input cell, e.g. nb_t3_new_natural (never a cell-like name)."""
    return "nb_" + re.sub(r"[^A-Za-z0-9_]", "_", key)


def sum_formula(cells: list[Cell]) -> str:
    """=SUM(D7:D27) for a contiguous run of cells, =SUM(D5,F5) otherwise."""
    runs: list[list[Cell]] = []
    for c in cells:
        prev = runs[-1][-1] if runs else None
        adjacent = prev is not None and (
            (c.row == prev.row and c.col == prev.col + 1)
            or (c.col == prev.col and c.row == prev.row + 1)
        )
        if adjacent and (len(runs[-1]) < 2 or _same_axis(runs[-1][0], runs[-1][1], c)):
            runs[-1].append(c)
        else:
            runs.append([c])
    parts = [r[0].a1 if len(r) == 1 else f"{r[0].a1}:{r[-1].a1}" for r in runs]
    return f"=SUM({','.join(parts)})"


def _same_axis(a: Cell, b: Cell, c: Cell) -> bool:
    return (a.row == b.row == c.row) or (a.col == b.col == c.col)


def total_formula(lay: Layout, field_id: str) -> str:
    """The SUM a total cell holds."""
    return sum_formula([lay.fields[p] for p in lay.form.by_id[field_id].sum_of])


def check_formula(lay: Layout, check: Check) -> str:
    """An in-sheet check cell: 通过 when its two sides are equal."""
    lhs = "+".join(lay.fields[f].a1 for f in check.lhs)
    rhs = "+".join(lay.fields[f].a1 for f in check.rhs)
    return f'=IF({lhs}={rhs},"{PASS}","{FAIL}")'


def overall_formula(lay: Layout) -> str:
    """The front sheet's overall check: 通过 when every check cell says so."""
    refs = ",".join(f'{quote_sheet(c.cell.sheet)}!{c.cell.a1}="{PASS}"' for c in lay.checks)
    return f'=IF(AND({refs}),"{PASS}","{FAIL}")'
