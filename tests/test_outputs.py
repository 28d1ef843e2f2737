"""Outputs are written atomically, and a path that cannot be written gets one Chinese message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nianbao.atomic import OutputError, write_bytes_atomic
from nianbao.cli import app


def test_an_existing_output_is_replaced_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "年报汇总.xlsx"
    target.write_bytes(b"old")

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    from nianbao.atomic import write_atomic

    with pytest.raises(OutputError, match="无法写入"):
        write_atomic(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["年报汇总.xlsx"]


def test_a_file_where_a_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError) as err:
        write_bytes_atomic(tmp_path / "f" / "x.xlsx", b"data")
    assert str(tmp_path / "f" / "x.xlsx") in str(err.value)
    assert "文件夹" in str(err.value)


def test_the_cli_answers_an_unwritable_output_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = CliRunner().invoke(
        app,
        ["template", "--year", "2025", "--unit", "群科镇", "--out", str(tmp_path / "f" / "q.xlsx")],
    )
    assert result.exit_code == 2
    assert "无法写入" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
