"""A collecting season built in a temporary folder from the form declaration, with the truth.

Used by test_collect.py and test_summary.py: every file is a nianbao template filled the way a
unit does it; `Season.expected` holds the figures the test computes on its own from what it wrote.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import docx
import openpyxl

from conftest import consistent_figures, sample_texts
from nianbao.form import Form, Layout
from nianbao.form.model import Axis
from nianbao.template import UnitInfo, template_bytes

YEAR = 2025
ROSTER = [  # name, code, category
    ("群科镇", "632127102", "乡镇"),
    ("巴燕镇", "632127101", "乡镇"),
    ("甘都镇", "632127103", "乡镇"),
    ("扎巴镇", "632127104", "乡镇"),
    ("昂思多镇", "632127105", "乡镇"),
    ("牙什尕镇", "632127106", "乡镇"),
]
PARENT = "化隆回族自治县人民政府"
FORMULA_NOTE = '=HYPERLINK("http://x","y")'
FORMULA_TEXT = "=1+1"
DAY = 86400.0
T0 = 1_767_000_000.0  # late December 2025


@dataclass
class Season:
    folder: Path
    roster: Path
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # counted unit → inputs
    files: dict[str, str] = field(default_factory=dict)  # counted unit → file name

    def expected(self, form: Form, units: list[str] | None = None) -> dict[str, float]:
        """Every field summed over `units` (default: all counted), totals from the declaration."""
        chosen = units if units is not None else list(self.values)
        sums = {f.id: sum(self.values[u].get(f.id, 0.0) for u in chosen) for f in form.inputs}
        return with_totals(form, sums)


def with_totals(form: Form, inputs: dict[str, float]) -> dict[str, float]:
    """Every total as the sum of the input cells it covers, read off the labels, not `sum_of`.

    A 总计 column covers the input columns under the same parent label (行政复议 → its four
    results); a 总计 row the input rows under the same parent (三、本年度办理结果 → （一）…（六）).
    """
    out = dict(inputs)
    for f in form.totals:
        out[f.id] = sum(
            inputs.get(g.id, 0.0)
            for g in form.inputs
            if g.table == f.table and _covers(f.row, g.row) and _covers(f.column, g.column)
        )
    return out


def _covers(total: Axis, other: Axis) -> bool:
    """A total axis covers the input axes beside it; any other axis only itself."""
    if not total.sum_of:
        return other.id == total.id
    return not other.sum_of and other.path[: len(total.path) - 1] == total.path[:-1]


def write_roster(path: Path, units: list[tuple[str, str, str]] = ROSTER) -> Path:
    lines = ["单位名称,单位代码,类别,上级单位"] + [f"{n},{c},{k},{PARENT}" for n, c, k in units]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def put_return(
    dest: Path,
    lay: Layout,
    form: Form,
    unit: str,
    *,
    seed: int,
    year: int = YEAR,
    code: str = "",
    values: dict[str, float] | None = None,
    texts: dict[str, str] | None = None,
    mtime: float = T0,
) -> dict[str, float]:
    """A filled template at `dest`; returns the input figures written."""
    values = values if values is not None else figures(form, seed)
    data = template_bytes(year, UnitInfo(unit, code, category="乡镇"), template_id=f"t{seed:031d}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fill_as_text(data, dest, lay, values, {**sample_texts(unit, values), **(texts or {})})
    os.utime(dest, (mtime, mtime))
    return values


def figures(form: Form, seed: int) -> dict[str, float]:
    """Consistent figures of a township: no 规章 (a 提示 otherwise)."""
    values = consistent_figures(form, random.Random(seed))
    return {k: 0.0 if k.startswith("t2.regulation.") else v for k, v in values.items()}


def fill_as_text(
    template: bytes, dest: Path, lay: Layout, values: dict[str, float], texts: dict[str, str]
) -> Path:
    """Fill like conftest.fill, but texts stay strings even when they start with '='.

    (openpyxl makes any "=..." a formula; a unit typing '=1+1 in Excel gets a string.)
    """
    wb = openpyxl.load_workbook(io.BytesIO(template))
    for fid, value in values.items():
        cell = lay.fields[fid]
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1, value)
    for tid, text in texts.items():
        cell = wb[lay.texts[tid].cell.sheet].cell(
            lay.texts[tid].cell.row + 1, lay.texts[tid].cell.col + 1
        )
        cell.value = text
        cell.data_type = "s"
    wb.save(dest)
    return dest


def word_file(path: Path) -> Path:
    doc = docx.Document()
    doc.add_paragraph("群科镇2025年政府信息公开工作年度报告")
    doc.save(path)
    return path


def build_season(root: Path, form: Form, lay: Layout) -> Season:
    """Renamed, duplicated, broken, explained, hinted and missing units (昂思多镇 never reports)."""
    folder = root / "returned"
    folder.mkdir(parents=True)
    season = Season(folder, write_roster(root / "units.csv"))
    codes = {n: c for n, c, _ in ROSTER}

    def counted(unit: str, name: str, **kw: object) -> None:
        season.values[unit] = put_return(folder / name, lay, form, unit, code=codes[unit], **kw)
        season.files[unit] = name

    counted("群科镇", "回传(1).xlsx", seed=1)
    put_return(folder / "巴燕镇年报（新）.xlsx", lay, form, "巴燕镇", seed=3, mtime=T0 - DAY)
    counted("巴燕镇", "新建 Microsoft Excel 工作表.xlsx", seed=2, mtime=T0 + DAY)
    broken = figures(form, 4)
    broken["t3.new.natural"] += 1  # 本年新收 one more than table 三 accounts for: 勾稽 error
    counted("甘都镇", "甘都镇/年报.xlsx", seed=4, values=broken)
    counted(
        "扎巴镇", "扎巴镇.xlsx", seed=5,
        texts={"s6": "无。", "note": FORMULA_NOTE, "s5": FORMULA_TEXT},
    )  # fmt: skip
    counted("牙什尕镇", "年报.xlsx", seed=6, texts={"s6": "本年度无其他需要报告的事项。"})
    whole = (folder / "回传(1).xlsx").read_bytes()
    (folder / "附件（损坏）.xlsx").write_bytes(whole[: len(whole) // 2])
    word_file(folder / "年度报告.docx")
    (folder / "说明.txt").write_text("年报见附件。\n", encoding="utf-8")
    return season


def digest(folder: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file below `folder` (hidden files included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mtimes(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}
