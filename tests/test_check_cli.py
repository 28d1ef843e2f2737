"""`nianbao check`: per-file result, exit codes, and --json equal to the library's answer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import consistent_figures, sample_texts
from nianbao import check as check_module
from nianbao import cli
from nianbao.check import check_file
from nianbao.cli import app
from nianbao.form import Form, Layout

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch) -> None:
    """Rich folds long cells at 80 columns; a wide console keeps each message on one line."""
    monkeypatch.setattr(cli.console, "width", 300)


@pytest.fixture
def season(make_return, form: Form, tmp_path: Path) -> dict[str, Path]:
    """A passing return, one with only a hint, one with an error, and an empty file."""
    values = consistent_figures(form, random.Random(5))
    values["t2.regulation.issued"] = values["t2.regulation.abolished"] = 0.0
    values["t2.regulation.valid"] = 0.0
    broken = {**values, "t3.new.natural": values["t3.new.natural"] + 3}
    no_fee = {**sample_texts("甘都镇", values), "s6": "本年度无其他事项。"}
    (tmp_path / "空文件.xlsx").write_bytes(b"")
    return {
        "pass": make_return("群科镇", values),
        "hint": make_return("甘都镇", values, no_fee),
        "error": make_return("巴燕镇", broken),
        "empty": tmp_path / "空文件.xlsx",
    }


def invoke(*args: object):
    return runner.invoke(app, ["check", *map(str, args)])


def test_a_passing_file_prints_its_unit_and_passes(season: dict[str, Path]) -> None:
    result = invoke(season["pass"])
    assert result.exit_code == 0, result.output
    assert f"{season['pass']}" in result.output.replace("\n", "")
    assert "群科镇" in result.output and "通过" in result.output


def test_hints_alone_exit_zero_and_show_the_issue(season: dict[str, Path]) -> None:
    result = invoke(season["hint"])
    assert result.exit_code == 0, result.output
    assert "有提示" in result.output and "TEXT_FEE" in result.output


def test_an_error_exits_one_and_shows_table_row_column(
    season: dict[str, Path], layout: Layout
) -> None:
    result = invoke(season["error"], "--year", 2025)
    assert result.exit_code == 1
    assert "有错误" in result.output and "T3_BALANCE" in result.output
    assert layout.fields["t3.new.natural"].ref in result.output.replace("\n", "")


def test_a_batch_goes_on_after_bad_files_and_exits_one(season: dict[str, Path]) -> None:
    files = [season["empty"], season["pass"], season["hint"]]
    result = invoke(*files)
    assert result.exit_code == 1
    flat = result.output.replace("\n", "")
    assert "无法读取" in flat and "为空" in flat and "通过" in flat and "有提示" in flat
    assert all(str(f) in flat for f in files)
    assert "共 3 个文件" in flat
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [[], ["--year"], ["--year", "二〇二五", "a.xlsx"]])
def test_usage_errors_exit_two(args: list[str]) -> None:
    assert runner.invoke(app, ["check", *args]).exit_code == 2


def test_json_output_equals_the_library_result(season: dict[str, Path]) -> None:
    files = list(season.values())
    result = runner.invoke(app, ["check", "--json", "--year", "2025", *map(str, files)])
    assert result.exit_code == 1
    expected = [check_file(f, expected_year=2025, name=str(f)).to_dict() for f in files]
    assert json.loads(result.stdout) == expected
    statuses = [r["status"] for r in expected]
    assert statuses == ["通过", "有提示", "有错误", "无法读取"]
    [balance] = [i for i in expected[2]["issues"] if i["code"] == "T3_BALANCE"][:1]
    assert balance["severity"] == "错误" and balance["cell"] and balance["sheet"] == "表三"


def test_json_of_passing_files_exits_zero(season: dict[str, Path]) -> None:
    result = runner.invoke(app, ["check", "--json", str(season["pass"]), str(season["hint"])])
    assert result.exit_code == 0
    assert [r["status"] for r in json.loads(result.stdout)] == ["通过", "有提示"]


def test_an_internal_error_is_one_line_and_details_need_debug(
    season: dict[str, Path], monkeypatch
) -> None:
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(check_module, "evaluate", broken)
    quiet = invoke(season["pass"], season["hint"])
    assert quiet.exit_code == 1
    assert quiet.output.count("内部错误") == 2 and "Traceback" not in quiet.output
    loud = invoke("--debug", season["pass"])
    assert "Traceback" in loud.output and "ZeroDivisionError" in loud.output
