"""Fixtures built from the form declaration: templates, filled returns, consistent figures."""

from __future__ import annotations

import random
from pathlib import Path

import openpyxl
import pytest

from nianbao.form import Form, Layout, layout_for, load_form
from nianbao.template import UnitInfo, template_bytes

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def form() -> Form:
    return load_form()


@pytest.fixture(scope="session")
def layout(form: Form) -> Layout:
    return layout_for(form)


def consistent_figures(form: Form, rng: random.Random, scale: int = 20) -> dict[str, float]:
    """Random input figures that satisfy every 强制 rule of the form."""
    values: dict[str, float] = {}
    t3 = form.table("t3").blocks[0]
    results = form.by_id["t3.results_total.natural"].sum_of
    result_rows = [fid.split(".")[1] for fid in results]
    for col in t3.columns:
        if col.sum_of:
            continue
        done = 0
        for row in result_rows:
            n = rng.randint(0, scale) if rng.random() < 0.4 else 0
            values[f"t3.{row}.{col.id}"] = float(n)
            done += n
        carry = rng.randint(0, scale // 2)
        total = done + carry
        carried = rng.randint(0, total)
        values[f"t3.carry_next.{col.id}"] = float(carry)
        values[f"t3.carried.{col.id}"] = float(carried)
        values[f"t3.new.{col.id}"] = float(total - carried)
    for f in form.inputs:
        if f.id in values:
            continue
        if f.kind == "amount":
            values[f.id] = round(rng.uniform(0, 500), rng.randint(0, 6))
        else:
            values[f.id] = float(rng.randint(0, scale))
    return values


def sample_texts(unit: str, values: dict[str, float]) -> dict[str, str]:
    new_total = sum(v for k, v in values.items() if k.startswith("t3.new."))
    return {
        "filler": "张三",
        "phone": "0972-1234567",
        "date": "2026-01-10",
        "s1": f"{unit}认真贯彻落实《中华人民共和国政府信息公开条例》，"
        f"全年共收到政府信息公开申请{int(new_total)}件。",
        "s5": "一是公开内容不够全面；二是解读形式单一。改进：完善清单，丰富解读。",
        "s6": "本年度未收取信息处理费。",
    }


def fill(
    template: bytes,
    dest: Path,
    layout: Layout,
    values: dict[str, object],
    texts: dict[str, str] | None = None,
) -> Path:
    """Fill a template the way a user does, with openpyxl (no stored formula results)."""
    import io

    wb = openpyxl.load_workbook(io.BytesIO(template))
    for fid, value in values.items():
        cell = layout.fields[fid]
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1, value)
    for tid, text in (texts or {}).items():
        cell = layout.texts[tid].cell
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1, text)
    wb.save(dest)
    return dest


@pytest.fixture
def make_return(tmp_path: Path, form: Form, layout: Layout):
    """make_return(unit, values=None, texts=None, year=2025, name=None) → a filled return."""

    def make(
        unit: str = "群科镇",
        values: dict[str, object] | None = None,
        texts: dict[str, str] | None = None,
        year: int = 2025,
        name: str | None = None,
        code: str = "",
        category: str = "乡镇",
        seed: int = 1,
    ) -> Path:
        if values is None:
            values = consistent_figures(form, random.Random(seed))
        if texts is None:
            texts = sample_texts(unit, values)  # type: ignore[arg-type]
        data = template_bytes(year, UnitInfo(unit, code, category=category))
        return fill(data, tmp_path / (name or f"{unit}.xlsx"), layout, values, texts)

    return make


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory, form: Form, layout: Layout):
    """A collecting season (tests/season.py), built once per test module that uses it."""
    from season import build_season  # season.py imports this module

    return build_season(tmp_path_factory.mktemp("season"), form, layout)


@pytest.fixture(scope="module")
def coll(season):
    """The season collected with its roster."""
    from nianbao.collect import collect
    from nianbao.roster import read_roster

    return collect(season.folder, roster=read_roster(season.roster), year=2025)
