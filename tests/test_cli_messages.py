"""Every user mistake is answered in Chinese, naming the file, with an exit code, no traceback."""

from __future__ import annotations

import io
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import docx
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from conftest import consistent_figures
from nianbao import cli, cli_common, templates_out
from nianbao.check import expand_paths
from nianbao.cli import app
from nianbao.cli_common import FIRST_YEAR, LAST_YEAR, run
from nianbao.form import Form
from nianbao.importer import YEAR_UNKNOWN
from nianbao.report import sections, write_report
from nianbao.template import UnitInfo
from nianbao.templates_out import write_roster_templates

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ("Traceback", "Usage:", "Try '", "Error", "Missing", "Invalid value", "No such")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch) -> None:
    """Tables fold long cells at 80 columns; a wide console keeps each message on one line."""
    monkeypatch.setattr(cli_common.console, "width", 300)


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean(output: str) -> None:
    """No traceback and none of Click's or the system's English."""
    for text in ENGLISH:
        assert text not in output, output


def nianbao(*args: object, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real command line: `python -m nianbao …` in a fresh process."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "nianbao", *map(str, args)],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def under_a_file(tmp_path: Path, name: str) -> Path:
    """An output path whose parent folder is in fact a file: it can never be written."""
    (tmp_path / "占位").write_text("x")
    return tmp_path / "占位" / name


def published_txt(form: Form, path: Path, figures: bool = True) -> Path:
    """A published report as text: a title without year, one table row when `figures`, part 一."""
    first = form.inputs[0]
    row = [f for f in form.inputs if f.table == first.table and f.row == first.row]
    lines = [f"群科镇{form.name}"]
    if figures:
        lines.append("\t".join([first.row.path[-1], *("3" for _ in row)]))
    lines += [sections(form)[0].label, "全年无申请。"]  # type: ignore[union-attr]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


# ---------------------------------------------------------------- 1. unwritable outputs


def test_template_into_a_path_under_a_file_is_refused(tmp_path: Path) -> None:
    out = under_a_file(tmp_path, "q.xlsx")
    result = invoke("template", "--year", 2025, "--unit", "群科镇", "--out", out)
    assert result.exit_code == 2
    assert "错误：无法写入" in result.output and str(out) in result.output.replace("\n", "")
    assert_clean(result.output)


def test_report_and_import_into_a_path_under_a_file_are_refused(
    make_return, tmp_path: Path
) -> None:
    source = make_return("群科镇")
    docx_out = under_a_file(tmp_path, "报告.docx")
    result = invoke("report", source, "--out", docx_out)
    assert result.exit_code == 2 and "无法写入" in result.output
    assert_clean(result.output)
    published = write_report(source, tmp_path / "报告.docx")[0]
    result = invoke("import", published, "--out", tmp_path / "占位" / "回读.xlsx")
    assert result.exit_code == 2 and "无法写入" in result.output
    assert_clean(result.output)


def test_collect_into_a_path_under_a_file_is_refused(make_return, tmp_path: Path) -> None:
    make_return("群科镇")
    returned = tmp_path / "回传"
    returned.mkdir()
    (tmp_path / "群科镇.xlsx").rename(returned / "群科镇.xlsx")
    out = under_a_file(tmp_path, "汇总.xlsx")
    result = invoke("collect", returned, "--out", out)
    assert result.exit_code == 2 and "无法写入" in result.output
    assert_clean(result.output)


def test_mail_drafts_into_a_path_under_a_file_are_refused(tmp_path: Path) -> None:
    unit = UnitInfo("群科镇", email="qunke@example.cn")
    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称,邮箱\n群科镇,qunke@example.cn\n", "utf-8")
    write_roster_templates(tmp_path / "模板", 2025, [unit])
    result = invoke(
        "mail", "--outbox", tmp_path / "模板", "--year", 2025, "--roster", roster,
        "--drafts", under_a_file(tmp_path, "草稿"), "--from", "ban@example.cn",
    )  # fmt: skip
    assert result.exit_code == 2 and "无法写入" in result.output, result.output
    assert_clean(result.output)


def test_a_bug_is_one_line_and_its_traceback_needs_debug(tmp_path: Path, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> Path:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(templates_out, "write_single_template", broken)
    args = ["template", "--year", "2025", "--out", str(tmp_path / "q.xlsx")]
    quiet = invoke(*args)
    assert quiet.exit_code == 1
    assert "内部错误（ZeroDivisionError）：boom" in quiet.output and "--debug" in quiet.output
    assert "Traceback" not in quiet.output
    loud = invoke(*args, "--debug")
    assert loud.exit_code == 1 and "Traceback" in loud.output


def test_the_cli_modules_share_one_pair_of_consoles() -> None:
    from nianbao import cli_collect, cli_mail, cli_report

    for module in (cli, cli_collect, cli_mail, cli_report):
        assert not hasattr(module, "_fail"), module.__name__
        for name in ("console", "err", "fail"):
            if hasattr(module, name):
                assert getattr(module, name) is getattr(cli_common, name), (module, name)


# ---------------------------------------------------------------- 2. usage errors, main()


USAGE = [
    (["check"], "用法错误：缺少参数 FILES。运行 nianbao check --help 查看用法。"),
    (["check", "--year", "abc", "a.xlsx"], "--year 的值「abc」无效，应为整数"),
    (["check", "--jsn", "a.xlsx"], "没有选项 --jsn（是否想用 --json？）"),
    (["template", "--out", "q.xlsx"], "缺少选项 --year。运行 nianbao template --help"),
    (["template", "--year"], "选项 --year 后面缺少取值。运行 nianbao template --help"),
    (["frob"], "没有命令 frob"),
    (["template", "--year", "2025", "--out", "q.xlsx", "多余"], "多余的参数：多余"),
]


@pytest.mark.parametrize(("args", "said"), USAGE)
def test_usage_errors_are_one_chinese_line(args: list[str], said: str, tmp_path: Path) -> None:
    result = nianbao(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert_clean(result.stderr + result.stdout)
    assert not list(tmp_path.iterdir())  # nothing was written


def test_help_still_works(tmp_path: Path) -> None:
    top = nianbao("--help", cwd=tmp_path)
    assert top.returncode == 0 and "check" in top.stdout and "生成模板" in top.stdout
    sub = nianbao("check", "--help", cwd=tmp_path)
    assert sub.returncode == 0 and "--json" in sub.stdout
    bare = nianbao(cwd=tmp_path)
    assert bare.returncode == 0 and "collect" in bare.stdout + bare.stderr


def test_main_returns_the_commands_exit_code(make_return, tmp_path: Path) -> None:
    good = make_return("群科镇")
    assert nianbao("check", good, cwd=tmp_path).returncode == 0
    missing = nianbao("check", "不存在.xlsx", cwd=tmp_path)
    assert missing.returncode == 1 and "找不到文件 不存在.xlsx" in missing.stdout
    assert_clean(missing.stdout + missing.stderr)


def test_the_console_script_is_main() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(r'^nianbao = "nianbao\.cli:main"$', pyproject, re.MULTILINE)
    assert callable(cli.main)


def _tiny_app(raise_it: BaseException) -> typer.Typer:
    tiny = typer.Typer()

    @tiny.command()
    def go(debug: bool = False) -> None:
        raise raise_it

    @tiny.command()
    def other() -> None:  # two commands, so `go` is a subcommand as in nianbao
        pass

    return tiny


def test_main_answers_abort_and_bugs_outside_commands(capsys) -> None:
    assert run(_tiny_app(typer.Abort()), ["go"]) == 1
    assert "已取消" in capsys.readouterr().err
    assert run(_tiny_app(typer.Exit(3)), ["go"]) == 3
    assert run(_tiny_app(KeyError("k")), ["go"]) == 1
    said = capsys.readouterr().err
    assert "内部错误（KeyError）" in said and "Traceback" not in said
    assert run(_tiny_app(KeyError("k")), ["go", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


# ---------------------------------------------------------------- 3. the file is named


def test_report_of_a_missing_or_broken_file_names_it(tmp_path: Path) -> None:
    result = invoke("report", tmp_path / "nothere.xlsx", "--out", tmp_path / "r.docx")
    assert result.exit_code == 2 and "找不到文件" in result.output
    assert "nothere.xlsx" in result.output
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(os.urandom(2000))
    result = invoke("report", broken, "--out", tmp_path / "r.docx")
    assert result.exit_code == 2 and "坏.xlsx：" in result.output.replace("\n", "")
    assert_clean(result.output)


def test_import_of_a_broken_document_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "坏.docx"
    broken.write_bytes(b"PK\x03\x04 not really a document")
    result = invoke("import", broken, "--out", tmp_path / "o.xlsx", "--year", 2025)
    assert result.exit_code == 2
    assert f"{broken}：Word 文档无法打开" in result.output.replace("\n", "")
    result = invoke("import", tmp_path / "没有.docx", "--out", tmp_path / "o.xlsx")
    assert result.exit_code == 2 and "找不到文件" in result.output and "没有.docx" in result.output
    assert not (tmp_path / "o.xlsx").exists()


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_a_roster_that_cannot_be_opened_is_said_in_chinese(where: str, tmp_path: Path) -> None:
    roster = tmp_path / ("nothere.xlsx" if where == "missing" else "")
    result = invoke("template", "--year", 2025, "--roster", roster, "--out", tmp_path / "模板")
    assert result.exit_code == 2
    flat = result.output.replace("\n", "")
    assert str(roster) in flat and ("文件不存在" in flat or "是文件夹" in flat)
    assert "No such file" not in flat and "Errno" not in flat
    assert_clean(result.output)


# ---------------------------------------------------------------- 4. check a folder


def test_check_of_a_folder_checks_every_file_below_it(
    make_return, form: Form, tmp_path: Path
) -> None:
    good = make_return("群科镇")
    values = consistent_figures(form, random.Random(3))
    bad = make_return("甘都镇", {**values, "t3.new.natural": values["t3.new.natural"] + 3})
    folder = tmp_path / "回传"
    (folder / "乡镇").mkdir(parents=True)
    good.rename(folder / good.name)
    bad.rename(folder / "乡镇" / bad.name)
    (folder / "~$群科镇.xlsx").write_bytes(b"lock file of an open workbook")
    missing = tmp_path / "没有.xlsx"
    assert expand_paths([folder, missing]) == [
        folder / good.name,
        folder / "乡镇" / bad.name,
        missing,
    ]
    result = invoke("check", folder, missing)
    flat = result.output.replace("\n", "")
    assert result.exit_code == 1
    assert f"{folder / good.name}（群科镇）" in flat and "T3_BALANCE" in flat
    assert f"{folder / '乡镇' / bad.name}（甘都镇）：有错误" in flat
    assert f"找不到文件 {missing}" in flat and "~$" not in flat
    assert "共 3 个文件" in flat
    assert "文件不存在或无法打开" not in flat


def test_check_of_an_empty_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "空").mkdir()
    result = invoke("check", tmp_path / "空")
    assert result.exit_code == 1
    assert "没有可校验的文件" in result.output.replace("\n", "")


# ---------------------------------------------------------------- 5. nothing recognised


def test_import_of_a_report_without_figures_writes_nothing(form: Form, tmp_path: Path) -> None:
    source = published_txt(form, tmp_path / "说明.txt", figures=False)
    out = tmp_path / "o.xlsx"
    result = invoke("import", source, "--out", out, "--year", 2025)
    assert result.exit_code == 1 and not out.exists()
    flat = result.output.replace("\n", "")
    assert source.name in flat and "没有找到" in flat and "未生成工作簿" in flat
    letter = docx.Document()
    letter.add_paragraph("关于报送年度报告的函")
    letter.save(tmp_path / "函.docx")
    result = invoke("import", tmp_path / "函.docx", "--out", out, "--year", 2025)
    assert result.exit_code == 1 and not out.exists() and "未生成工作簿" in result.output


def test_a_year_given_on_the_command_line_is_no_problem(form: Form, tmp_path: Path) -> None:
    source = published_txt(form, tmp_path / "无年度.txt")
    out = tmp_path / "o.xlsx"
    result = invoke("import", source, "--out", out, "--year", 2025)
    assert out.exists() and "2025 年度" in result.output
    assert YEAR_UNKNOWN.split("：", 1)[1] not in result.output.replace("\n", "")


# ---------------------------------------------------------------- 6. small gaps


@pytest.mark.parametrize("year", [20255, FIRST_YEAR - 1, LAST_YEAR + 1])
def test_a_year_out_of_range_is_refused(year: int, tmp_path: Path) -> None:
    result = invoke("template", "--year", year, "--out", tmp_path / "q.xlsx")
    assert result.exit_code == 2 and f"年度 {year} 不对" in result.output
    assert not (tmp_path / "q.xlsx").exists()
    assert invoke("check", "--year", year, tmp_path / "q.xlsx").exit_code == 2


def test_a_single_template_gets_the_xlsx_extension(tmp_path: Path) -> None:
    result = invoke("template", "--year", 2025, "--unit", "群科镇", "--out", tmp_path / "q.txt")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "q.xlsx").exists() and not (tmp_path / "q.txt").exists()
    assert "q.xlsx" in result.output.replace("\n", "")


def test_messages_wrap_only_at_the_terminal_edge(monkeypatch) -> None:
    narrow = Console(file=io.StringIO(), width=30)
    monkeypatch.setattr(cli_common, "err", narrow)
    message = "名单文件 单位名单.xlsx 第 1 行（表头）缺少「单位名称」列，请补上后重试。"
    cli_common.fail(message)
    assert narrow.file.getvalue() == f"错误：{message}\n"  # type: ignore[attr-defined]


def test_markup_in_a_file_name_is_printed_as_is(monkeypatch) -> None:
    shown = Console(file=io.StringIO(), width=200)
    monkeypatch.setattr(cli_common, "err", shown)
    cli_common.fail("无法写入 回传[red]1[/red].xlsx")
    assert "回传[red]1[/red].xlsx" in shown.file.getvalue()  # type: ignore[attr-defined]
