"""The roster of units: .xlsx and .csv read alike; bad rosters are refused naming the row."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from nianbao.cli import app
from nianbao.roster import COLUMNS, RosterError, read_roster, safe_filename

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
HEADER = list(COLUMNS)
runner = CliRunner()


def write_roster(path: Path, rows: list[list[object]], encoding: str = "utf-8-sig") -> Path:
    """A roster file in the format its suffix names."""
    if path.suffix == ".csv":
        with path.open("w", encoding=encoding, newline="") as fh:
            csv.writer(fh).writerows(rows)
        return path
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def flat(text: str) -> str:
    """Console output without the line breaks and spaces Rich wraps it with."""
    return "".join(text.split())


# ------------------------------------------------------------------ the shipped samples


@pytest.mark.parametrize("name", ["units.xlsx", "units.csv"])
def test_sample_roster(name: str) -> None:
    units = read_roster(SAMPLES / name).units
    assert 10 <= len(units) <= 15
    assert {u.category for u in units} == {"乡镇", "县直部门"}
    assert sum(1 for u in units if not u.email) == 1
    assert all(u.email.endswith(("@example.com", "@example.cn")) for u in units if u.email)
    assert all(u.name and u.code and u.parent and u.contact for u in units)
    assert len({u.code for u in units}) == len(units)


def test_sample_rosters_agree() -> None:
    assert read_roster(SAMPLES / "units.xlsx").units == read_roster(SAMPLES / "units.csv").units


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_optional_columns_in_any_order(tmp_path: Path, suffix: str) -> None:
    rows = [["邮箱", "单位名称", "备注"], ["a@example.cn", " 群科镇 ", "x"], ["", "巴燕镇", ""]]
    units = read_roster(write_roster(tmp_path / f"r{suffix}", rows)).units
    assert [(u.name, u.email, u.code) for u in units] == [
        ("群科镇", "a@example.cn", ""),
        ("巴燕镇", "", ""),
    ]


def test_numeric_code_in_xlsx_is_read_without_decimals(tmp_path: Path) -> None:
    path = write_roster(tmp_path / "r.xlsx", [["单位名称", "单位代码"], ["群科镇", 632127102]])
    assert read_roster(path).units[0].code == "632127102"


def test_blank_rows_are_skipped(tmp_path: Path) -> None:
    rows = [HEADER[:1], ["群科镇"], [""], ["巴燕镇"]]
    path = write_roster(tmp_path / "r.csv", rows)
    assert [u.name for u in read_roster(path).units] == ["群科镇", "巴燕镇"]


def test_gbk_csv_as_excel_saves_it(tmp_path: Path) -> None:
    path = write_roster(tmp_path / "r.csv", [HEADER[:1], ["甘都镇"]], encoding="gbk")
    assert read_roster(path).units[0].name == "甘都镇"


BAD_ROSTERS = {
    "missing column": ([["名称", "邮箱"], ["群科镇", ""]], 1, "缺少「单位名称」"),
    "blank name": ([HEADER[:2], ["群科镇", "1"], ["", "2"]], 3, "为空"),
    "duplicate name": ([HEADER[:2], ["群科镇", "1"], ["巴燕镇", "2"], ["群科镇", "3"]], 4, "重复"),
    "duplicate code": ([HEADER[:2], ["群科镇", "1"], ["巴燕镇", "1"]], 3, "单位代码"),
}


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("case", list(BAD_ROSTERS))
def test_bad_roster_names_the_row(tmp_path: Path, case: str, suffix: str) -> None:
    rows, row, words = BAD_ROSTERS[case]
    with pytest.raises(RosterError) as info:
        read_roster(write_roster(tmp_path / f"名单{suffix}", rows))
    assert f"第 {row} 行" in str(info.value) and words in str(info.value)
    assert f"名单{suffix}" in str(info.value)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "是空的"), ("单位名称\n".encode(), "没有任何单位"), (b"PK\x03\x04junk", "无法读取")],
)
def test_unusable_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / ("r.xlsx" if content.startswith(b"PK") else "r.csv")
    path.write_bytes(content)
    with pytest.raises(RosterError, match=words):
        read_roster(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="无法打开"):
        read_roster(tmp_path / "无.xlsx")


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("县教育局", "县教育局"),
        ('县/市"局"?', "县_市_局__"),
        (" . ", "未命名单位"),
        ("a\tb", "a_b"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


# ------------------------------------------------------------------ CLI: nothing half-done


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("case", ["missing column", "blank name", "duplicate name"])
def test_cli_refuses_bad_roster_and_writes_nothing(tmp_path: Path, case: str, suffix: str) -> None:
    rows, row, words = BAD_ROSTERS[case]
    roster = write_roster(tmp_path / f"名单{suffix}", rows)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    args = ["template", "--year", "2025", "--roster", str(roster), "--out", str(outbox)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"第{row}行" in flat(result.output) and words in flat(result.output)
    assert list(outbox.iterdir()) == []


def test_cli_does_not_create_the_folder_for_a_bad_roster(tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "名单.csv", BAD_ROSTERS["duplicate name"][0])
    outbox = tmp_path / "new" / "outbox"
    args = ["template", "--year", "2025", "--roster", str(roster), "--out", str(outbox)]
    assert runner.invoke(app, args).exit_code == 2
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_title_rows_above_the_header(tmp_path: Path, suffix: str) -> None:
    rows = [["化隆县政务公开单位名单"], [], [" 单位名称 *", "邮箱"], ["群科镇", ""], ["群科镇", ""]]
    with pytest.raises(RosterError, match=r"第 5 行.*与第 4 行重复"):
        read_roster(write_roster(tmp_path / f"r{suffix}", rows))
