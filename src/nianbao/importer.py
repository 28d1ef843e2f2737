"""A published report (.docx, .html, .txt) → the figures of the form, and a filled workbook.

The unit and year come from the title (「群科镇人民政府信息公开工作年度报告」,
「XX县2025年政府信息公开工作年度报告」) or the opening 「2025年，」 of part 一; the figures are
found by the official labels (importer_tables). Whatever is uncertain is a problem with its place.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

from nianbao.atomic import write_atomic
from nianbao.form import Form, Table, layout_for, load_form
from nianbao.importer_sources import Line, SourceError, lines_from_bytes, read_lines
from nianbao.importer_tables import read_table, unnumbered
from nianbao.locate import norm
from nianbao.numbers import is_whole
from nianbao.report import sections
from nianbao.template import UnitInfo, template_bytes

_YEAR_OPENING = re.compile(r"^(\d{4})年度?[，,、]")
YEAR_UNKNOWN = "全文：标题和正文开头都没有写明年度，未能识别报告年度"
_TITLE_MAX = 60  # a title is a short line; longer lines are running text that mention it
EPSILON = 1e-9

__all__ = [
    "ImportResult",
    "SourceError",
    "import_bytes",
    "import_lines",
    "import_report",
    "nothing_read",
    "write_workbook",
]


@dataclass
class ImportResult:
    """What a published report says, and what could not be read from it with certainty."""

    unit: str
    year: int | None
    values: dict[str, float] = field(default_factory=dict)  # input field id → figure
    stored_totals: dict[str, float] = field(default_factory=dict)  # totals as published
    texts: dict[str, str] = field(default_factory=dict)  # s1, s5, s6
    problems: list[str] = field(default_factory=list)  # Chinese, each with its place
    source: str = ""

    def set_year(self, year: int) -> None:
        """The year as the user gave it: the problem of a year not found in the text is gone."""
        self.year = year
        self.problems = [p for p in self.problems if p != YEAR_UNKNOWN]


def nothing_read(result: ImportResult, form: Form | None = None) -> str:
    """Why no workbook should be made from `result` ("" when it holds figures to write)."""
    if result.values:
        return ""
    form = form or load_form()
    tables = "、".join(t.short for t in form.tables)
    return (
        f"{result.source} 中没有找到{tables}的任何数字（可能不是{form.name}，或表格是图片），"
        "未生成工作簿。请提供含文字表格的年报（.docx、.html 或 .txt）。"
    )


def import_report(path: Path, form: Form | None = None) -> ImportResult:
    """Read a published report; raises SourceError only when the file cannot be opened at all."""
    return import_lines(read_lines(Path(path)), Path(path).name, form)


def import_bytes(data: bytes, name: str, form: Form | None = None) -> ImportResult:
    """The same for a report held in memory; the extension of `name` says its kind."""
    return import_lines(lines_from_bytes(data, name), name, form)


def import_lines(lines: list[Line], source: str, form: Form | None = None) -> ImportResult:
    """What the lines of a published report say (see import_report)."""
    form = form or load_form()
    result = ImportResult("", None, source=source)
    title_at = _read_identity(lines, form, result)
    regions = _regions(lines, form, title_at + 1, result)
    _read_year_from_text(regions.get(sections(form)[0].id, []), result)
    for item in sections(form):
        region = regions.get(item.id, [])
        if isinstance(item, Table):
            read = read_table(region or _fallback(lines, regions, title_at), item)
            result.values.update(read.values)
            result.stored_totals.update(read.stored)
            result.problems.extend(read.problems)
        else:
            result.texts[item.id] = "\n".join(ln.text for ln in region if not ln.table_row)
    return result


def _read_identity(lines: list[Line], form: Form, result: ImportResult) -> int:
    """Unit and year from the title line; returns the title's index (-1 when none)."""
    name = norm(form.name)
    title = re.compile(rf"^(?P<unit>.*?)(?:(?P<year>\d{{4}})年度?)?{re.escape(name)}$")
    for i, line in enumerate(lines):
        text = norm(line.text)
        match = title.match(text) if len(text) <= _TITLE_MAX and not line.table_row else None
        if not match:
            continue
        unit = match.group("unit")
        if not unit and i > 0 and len(norm(lines[i - 1].text)) <= _TITLE_MAX // 2:
            unit = norm(lines[i - 1].text)  # title broken over two lines
        result.unit, year = _split_unit(unit)
        result.year = int(match.group("year")) if match.group("year") else year
        return i
    result.problems.append(f"全文：没有找到标题「×××{form.name}」，未能识别单位名称")
    return -1


def _split_unit(unit: str) -> tuple[str, int | None]:
    """「2025年度群科镇」 → 群科镇, 2025; 「群科镇人民」 (of 群科镇人民政府信息公开…) → 群科镇."""
    year = None
    match = re.match(r"^(\d{4})年度?(.*)$", unit)
    if match:
        year, unit = int(match.group(1)), match.group(2)
    if unit.endswith("人民"):  # 「…人民政府信息公开工作年度报告」 shares 政府 with the title
        unit = unit[: -len("人民")]
    return unit, year


def _headings(form: Form) -> list[tuple[str, str]]:
    """(section id, heading label) of the six sections, in order."""
    return [
        (item.id, item.title if isinstance(item, Table) else item.label) for item in sections(form)
    ]


def _regions(
    lines: list[Line], form: Form, start: int, result: ImportResult
) -> dict[str, list[Line]]:
    """Lines of each section, from its heading to the next heading found."""
    found: list[tuple[int, str]] = []
    at = max(start, 0)
    for sid, label in _headings(form):
        want = unnumbered(label)
        hit = next(
            (
                i
                for i in range(at, len(lines))
                if not lines[i].table_row and unnumbered(lines[i].text) == want
            ),
            None,
        )
        if hit is None:
            result.problems.append(f"全文：没有找到标题「{label}」")
            continue
        found.append((hit, sid))
        at = hit + 1
    ends = [i for i, _ in found[1:]] + [len(lines)]
    return {sid: lines[i + 1 : end] for (i, sid), end in zip(found, ends)}


def _fallback(lines: list[Line], regions: dict[str, list[Line]], title_at: int) -> list[Line]:
    """Without its heading a table is looked for in every line no other section holds."""
    taken = {id(ln) for region in regions.values() for ln in region}
    return [ln for ln in lines[title_at + 1 :] if id(ln) not in taken]


def _read_year_from_text(first: list[Line], result: ImportResult) -> None:
    """The opening 「2025年，」 of part 一 gives (or confirms) the year."""
    opening = next((ln for ln in first if not ln.table_row), None)
    match = _YEAR_OPENING.match(norm(opening.text)) if opening else None
    if match and result.year is None:
        result.year = int(match.group(1))
    elif match and opening and int(match.group(1)) != result.year:
        result.problems.append(
            f"{opening.place()}：正文开头写的是 {match.group(1)} 年，标题是 {result.year} 年，"
            "已按标题的年度读取，请核实"
        )
    if result.year is None:
        result.problems.append(YEAR_UNKNOWN)


def write_workbook(result: ImportResult, out: Path, form: Form | None = None) -> Path:
    """A filled template of the form for the imported report, written atomically to `out`.

    A published total that disagrees with its parts replaces the total's formula, so that
    `check` reports it instead of trusting either.
    """
    form = form or load_form()
    if result.year is None:
        raise ValueError("year unknown")
    lay = layout_for(form)
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes(result.year, UnitInfo(result.unit))))
    for fid, value in result.values.items():
        _put(wb, lay.fields[fid], _cell_value(value, form.by_id[fid].kind))
    computed = form.compute(result.values)
    for fid, stored in result.stored_totals.items():
        if abs(stored - computed[fid]) > EPSILON:
            _put(wb, lay.fields[fid], _cell_value(stored, "count"))
    for tid, text in result.texts.items():
        if tid in lay.texts and text:
            _put(wb, lay.texts[tid].cell, text)
    write_atomic(Path(out), lambda tmp: wb.save(tmp))
    return Path(out)


def _put(wb: openpyxl.Workbook, cell, value: object) -> None:
    wb[cell.sheet].cell(cell.row + 1, cell.col + 1).value = value


def _cell_value(value: float, kind: str) -> float | int:
    return int(value) if kind == "count" and is_whole(value) else value
