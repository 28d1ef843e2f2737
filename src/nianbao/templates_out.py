"""Write templates to disk: one file, or one per roster unit named after the unit."""

from __future__ import annotations

from pathlib import Path

from nianbao.atomic import write_bytes_atomic
from nianbao.roster import safe_filename
from nianbao.template import UnitInfo, template_bytes


def write_single_template(out: Path, year: int, unit: UnitInfo, password: str = "") -> Path:
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out = out / f"{safe_filename(unit.name or '年报模板')}.xlsx"
    return write_bytes_atomic(out, template_bytes(year, unit, password=password))


def roster_template_path(outdir: Path, unit: UnitInfo) -> Path:
    return Path(outdir) / f"{safe_filename(unit.name)}.xlsx"


def write_roster_templates(
    outdir: Path, year: int, units: tuple[UnitInfo, ...] | list[UnitInfo], password: str = ""
) -> list[Path]:
    """One template per unit; all are built before any is written (nothing half-done)."""
    built = [
        (roster_template_path(outdir, u), template_bytes(year, u, password=password)) for u in units
    ]
    for path, data in built:
        write_bytes_atomic(path, data)
    return [p for p, _ in built]
