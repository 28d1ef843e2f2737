"""The shipped samples give the results the README states."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nianbao.check import check_file
from nianbao.cli import app
from nianbao.collect import collect
from nianbao.roster import read_roster

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
RETURNED = SAMPLES / "returned"


def test_a_clean_sample_passes() -> None:
    result = check_file(RETURNED / "回传(1).xlsx")
    assert result.status == "通过"


def test_the_faulty_sample_has_two_balance_errors() -> None:
    result = check_file(RETURNED / "扎巴镇政务公开年报.xlsx")
    assert [i.code for i in result.errors] == ["T3_BALANCE", "T3_BALANCE"]


def test_the_sample_season_gives_the_statuses_the_readme_states() -> None:
    coll = collect(RETURNED, roster=read_roster(SAMPLES / "units.xlsx"))
    counts = {s: coll.count(s) for s in ("已报且通过", "已报有提示", "已报有错误", "未报")}
    assert counts == {"已报且通过": 8, "已报有提示": 1, "已报有错误": 1, "未报": 2}
    missing = {s.unit.name for s in coll.statuses if s.status == "未报"}
    assert missing == {"昂思多镇", "县卫生健康局"}


def test_the_main_command_writes_the_summary_and_exits_1(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["collect", str(RETURNED), "--roster", str(SAMPLES / "units.xlsx")]
    )
    assert result.exit_code == 1, result.output
    assert (tmp_path / "年报汇总.xlsx").exists()
