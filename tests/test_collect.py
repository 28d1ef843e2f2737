"""Collecting a folder: identity by content, duplicates, statuses, exit codes, summaries again."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nianbao.cli import app
from nianbao.collect import (
    COUNTED,
    NOT_REPORTED,
    REPORTED_ERRORS,
    REPORTED_HINTS,
    REPORTED_OK,
    SUPERSEDED,
    UNREADABLE,
    Collection,
    collect,
)
from nianbao.form import Form, Layout
from nianbao.previous import load_previous
from nianbao.roster import read_roster
from nianbao.summary import write_summary
from season import (
    FORMULA_NOTE,
    ROSTER,
    Season,
    digest,
    figures,
    mtimes,
    put_return,
    with_totals,
    write_roster,
)

runner = CliRunner()


def _outcome(coll: Collection, name: str):
    return next(o for o in coll.outcomes if o.result.name == name)


def test_every_file_has_a_fate_and_none_is_skipped(season: Season, coll: Collection) -> None:
    assert sorted(o.result.name for o in coll.outcomes) == sorted(digest(season.folder))
    fates = {o.result.name: o.fate for o in coll.outcomes}
    assert {n for n, f in fates.items() if f == COUNTED} == set(season.files.values())
    assert fates["巴燕镇年报（新）.xlsx"] == SUPERSEDED
    for name in ("附件（损坏）.xlsx", "年度报告.docx", "说明.txt"):
        assert fates[name] == UNREADABLE


def test_units_are_identified_by_content_not_file_name(season: Season, coll: Collection) -> None:
    for unit, name in season.files.items():
        assert _outcome(coll, name).unit == unit


def test_newest_file_of_a_unit_counts_and_both_names_are_shown(coll: Collection) -> None:
    old, new = (
        _outcome(coll, "巴燕镇年报（新）.xlsx"),
        _outcome(coll, "新建 Microsoft Excel 工作表.xlsx"),
    )
    assert old.mtime < new.mtime and new.fate == COUNTED
    assert "新建 Microsoft Excel 工作表.xlsx" in old.note
    assert "巴燕镇年报（新）.xlsx" in new.note


def test_files_that_are_not_workbooks_say_why(coll: Collection) -> None:
    reasons = {
        name: " ".join(i.message for i in _outcome(coll, name).result.issues)
        for name in ("附件（损坏）.xlsx", "年度报告.docx", "说明.txt")
    }
    assert "不完整" in reasons["附件（损坏）.xlsx"] or "损坏" in reasons["附件（损坏）.xlsx"]
    assert "Word" in reasons["年度报告.docx"]
    assert "文本" in reasons["说明.txt"]


def test_one_status_per_roster_unit(coll: Collection) -> None:
    statuses = {s.unit.name: s.status for s in coll.statuses}
    assert statuses == {
        "群科镇": REPORTED_OK,
        "巴燕镇": REPORTED_OK,
        "甘都镇": REPORTED_ERRORS,
        "扎巴镇": REPORTED_OK,  # its 提示 are explained in 情况说明
        "牙什尕镇": REPORTED_HINTS,
        "昂思多镇": NOT_REPORTED,
    }
    assert coll.statuses[0].status == NOT_REPORTED  # 未报 first
    assert not coll.complete


def test_an_explained_hint_is_shown_as_explained(coll: Collection) -> None:
    zhaba = next(s for s in coll.statuses if s.unit.name == "扎巴镇")
    hints = [i for i in zhaba.outcome.result.issues if not i.is_error]
    assert hints and all(i.status == "已说明" and i.explanation == FORMULA_NOTE for i in hints)
    assert zhaba.explained == len(hints)
    yashi = next(s for s in coll.statuses if s.unit.name == "牙什尕镇")
    assert [i.code for i in yashi.outcome.result.open_hints] == ["TEXT_FEE"]


def test_totals_are_the_sum_of_counted_units(form: Form, season: Season, coll: Collection) -> None:
    expected = season.expected(form)
    assert set(coll.totals) == {f.id for f in form.fields}
    for fid, value in expected.items():
        assert coll.totals[fid] == pytest.approx(value), fid


def _cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, ["collect", *(str(a) for a in args)])
    return result.exit_code, result.output


def test_cli_leaves_the_folder_untouched_and_exits_1(season: Season, tmp_path: Path) -> None:
    before, times = digest(season.folder), mtimes(season.folder)
    out = tmp_path / "汇总.xlsx"
    code, output = _cli(season.folder, "--roster", season.roster, "--out", out, "--year", 2025)
    assert code == 1, output
    assert out.is_file() and "昂思多镇" in output and "未报" in output
    assert digest(season.folder) == before and mtimes(season.folder) == times
    assert [p.name for p in tmp_path.iterdir()] == ["汇总.xlsx"]  # no temporary file left


def test_cli_exits_0_when_everyone_reported_without_errors(
    tmp_path: Path, form: Form, layout: Layout
) -> None:
    folder = tmp_path / "in"
    for n, (unit, code, _) in enumerate(ROSTER[:2]):
        put_return(folder / f"{n}.xlsx", layout, form, unit, seed=10 + n, code=code)
    roster = write_roster(tmp_path / "units.csv", ROSTER[:2])
    code, output = _cli(folder, "--roster", roster, "--out", tmp_path / "s.xlsx")
    assert code == 0, output


@pytest.mark.parametrize("problem", ["no folder", "bad roster", "missing roster", "out inside"])
def test_cli_usage_errors_exit_2(problem: str, season: Season, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,代码\n群科镇,1\n", encoding="utf-8")
    folder = tmp_path / "nowhere" if problem == "no folder" else season.folder
    roster = {"bad roster": bad, "missing roster": tmp_path / "none.csv"}.get(
        problem, season.roster
    )
    out = [] if problem == "out inside" else ["--out", tmp_path / "s.xlsx"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(season.folder if problem == "out inside" else tmp_path)
        code, output = _cli(folder, "--roster", roster, *out)
    assert code == 2, output
    assert not (tmp_path / "s.xlsx").exists() and not (season.folder / "年报汇总.xlsx").exists()


def _summary_of(folder: Path, dest: Path, unit: str, year: int = 2025) -> Path:
    return write_summary(dest, collect(folder, year=year), unit=unit)


def test_two_half_summaries_equal_collecting_everything(
    season: Season, form: Form, tmp_path: Path
) -> None:
    halves = {"东片": ["群科镇", "甘都镇"], "西片": ["巴燕镇", "扎巴镇", "牙什尕镇"]}
    top = tmp_path / "top"
    for office, units in halves.items():
        part = tmp_path / office
        for unit in units:
            (part / season.files[unit]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(season.folder / season.files[unit], part / season.files[unit])
        _summary_of(part, top / f"{office}汇总.xlsx", office)
    coll = collect(top, year=2025)
    assert [o.fate for o in coll.outcomes] == [COUNTED, COUNTED]
    expected = season.expected(form)
    for fid, value in expected.items():
        assert coll.totals[fid] == pytest.approx(value), fid
    assert sorted(coll.members) == sorted(season.values)
    assert not coll.issues  # nobody counted twice


def test_a_summary_carries_its_units_issues_and_explanations_once(
    season: Season, tmp_path: Path
) -> None:
    _summary_of(season.folder, tmp_path / "top" / "县汇总.xlsx", "化隆县")
    below = collect(season.folder, year=2025)
    top = collect(tmp_path / "top", year=2025)
    carried = top.outcomes[0].result.issues
    unit_issues = [i for o in below.summed for i in o.result.issues]
    key = lambda i: (i.unit, i.code, i.place, i.severity, i.explanation)  # noqa: E731
    assert sorted(map(key, carried)) == sorted(map(key, unit_issues))
    explained = [i for i in carried if i.unit == "扎巴镇" and not i.is_error]
    assert explained and all(i.explanation == FORMULA_NOTE for i in explained)
    assert top.outcomes[0].result.status == "有错误"  # 甘都镇's error travels up


def test_a_unit_reached_twice_is_reported(season: Season, tmp_path: Path) -> None:
    part = tmp_path / "东片"
    part.mkdir()
    shutil.copy2(season.folder / season.files["群科镇"], part / "群科镇.xlsx")
    top = tmp_path / "top"
    _summary_of(part, top / "东片汇总.xlsx", "东片")
    shutil.copy2(season.folder / season.files["群科镇"], top / "群科镇又一份.xlsx")
    coll = collect(top, year=2025)
    assert [i.code for i in coll.issues] == ["COUNTED_TWICE"]
    assert "群科镇" in coll.issues[0].message


def _prev_pair(tmp_path: Path, form: Form, layout: Layout, carried_ok: bool) -> dict[str, Path]:
    """Last year's and this year's return of 群科镇; this year's 上年结转 right or not."""
    last = figures(form, 20)
    put_return(
        tmp_path / "2024" / "a.xlsx", layout, form, "群科镇", seed=20, year=2024, values=last
    )
    now = figures(form, 21)
    results = with_totals(form, now)
    for f in form.fields_of_row("t3.carried"):
        if f.is_total:
            continue
        col = f.column.id
        now[f.id] = last[f"t3.carry_next.{col}"] + (0 if carried_ok or col != "natural" else 1)
        new = results[f"t3.results_total.{col}"] + now[f"t3.carry_next.{col}"] - now[f.id]
        now[f"t3.carry_next.{col}"] += max(0.0, -new)  # keep table 三 balanced and whole
        now[f"t3.new.{col}"] = max(0.0, new)
    put_return(tmp_path / "2025" / "a.xlsx", layout, form, "群科镇", seed=21, values=now)
    return {"folder": tmp_path / "2024", "now": tmp_path / "2025"}


@pytest.mark.parametrize("source", ["summary", "folder"])
@pytest.mark.parametrize("carried_ok", [True, False])
def test_previous_year_checks_carry_over_per_unit(
    source: str, carried_ok: bool, tmp_path: Path, form: Form, layout: Layout
) -> None:
    paths = _prev_pair(tmp_path, form, layout, carried_ok)
    prev_path = paths["folder"]
    if source == "summary":
        prev_path = _summary_of(paths["folder"], tmp_path / "2024汇总.xlsx", "化隆县", 2024)
    coll = collect(paths["now"], year=2025, previous=load_previous(prev_path))
    codes = [i.code for i in coll.outcomes[0].result.issues]
    assert codes.count("PREV_CARRY") == (0 if carried_ok else 2)


SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_sample_season_is_current_and_collects_as_described(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("make_season", SAMPLES / "make_season.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_season", module)  # dataclasses look themselves up
    spec.loader.exec_module(module)
    module.make_season(tmp_path / "returned", SAMPLES / "units.xlsx")
    assert digest(tmp_path / "returned") == digest(SAMPLES / "returned")  # rerun the script
    coll = collect(SAMPLES / "returned", roster=read_roster(SAMPLES / "units.xlsx"), year=2025)
    statuses = {s.unit.name: s.status for s in coll.statuses}
    assert [u for u, s in statuses.items() if s == NOT_REPORTED] == ["昂思多镇", "县卫生健康局"]
    assert [u for u, s in statuses.items() if s == REPORTED_ERRORS] == ["扎巴镇"]
    assert [u for u, s in statuses.items() if s == REPORTED_HINTS] == ["县人力资源和社会保障局"]
    assert next(s for s in coll.statuses if s.unit.name == "县财政局").explained == 1
    qunke = next(s for s in coll.statuses if s.unit.name == "群科镇")
    assert qunke.status == REPORTED_OK and qunke.outcome.result.name == "群科镇年报（修改后）.xlsx"
    assert sum(o.fate == UNREADABLE for o in coll.outcomes) == 3
