"""A roster with addresses and the outbox of templates made from it, for the mail tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import openpyxl

from nianbao.roster import COLUMNS
from nianbao.template import UnitInfo
from nianbao.templates_out import write_roster_templates


def roster_and_outbox(tmp_path: Path, units: Sequence[UnitInfo], year: int) -> dict[str, Path]:
    """What `nianbao template --roster` leaves: units.xlsx and outbox/ with one template each."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(COLUMNS))
    for u in units:
        ws.append([getattr(u, key) for key in COLUMNS.values()])
    roster = tmp_path / "units.xlsx"
    wb.save(roster)
    outbox = tmp_path / "outbox"
    write_roster_templates(outbox, year, list(units))
    return {"roster": roster, "outbox": outbox, "tmp": tmp_path}
