"""Command line: parse options, call the library, print with Rich. No logic of its own."""

from __future__ import annotations

import importlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup
from typer.models import CommandInfo

from nianbao.cli_common import (
    check_year,
    console,
    err,
    fail,
    guarded,
    run,
    say,
    with_suffix,
)

if TYPE_CHECKING:
    from typer._click.core import Command, Context  # Typer ≥ 0.29 (pinned) carries its own Click

    from nianbao.check import FileResult
    from nianbao.issues import Issue

# Commands defined in other modules, imported only when run (or listed by --help): start-up
# stays short because `collect` does not import the mail, Word and import machinery.
LAZY = {
    "mail": ("nianbao.cli_mail", "mail"),
    "report": ("nianbao.cli_report", "report"),
    "import": ("nianbao.cli_report", "import_"),
}


class LazyGroup(TyperGroup):
    """The command group, importing a lazily registered command's module on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in LAZY and cmd_name not in self.commands:
            module, attr = LAZY[cmd_name]
            callback = getattr(importlib.import_module(module), attr)
            self.add_command(
                typer.main.get_command_from_info(
                    CommandInfo(name=cmd_name, callback=callback),
                    pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=app.rich_markup_mode,
                ),
                cmd_name,
            )
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="政府信息公开工作年度报告：生成模板、校验、收集汇总。",
    cls=LazyGroup,
)
DEBUG = typer.Option("--debug", help="显示内部错误的详细信息")


@app.command()
@guarded
def template(
    year: Annotated[int, typer.Option("--year", help="报告年度，如 2025")],
    out: Annotated[Path, typer.Option("--out", help="输出文件（单个单位）或文件夹（名单）")],
    unit: Annotated[str, typer.Option("--unit", help="单位名称（生成一个模板）")] = "",
    roster: Annotated[Path | None, typer.Option("--roster", help="单位名单 .xlsx/.csv")] = None,
    password: Annotated[str, typer.Option("--password", help="工作表保护密码（默认无）")] = "",
    debug: Annotated[bool, DEBUG] = False,
) -> None:
    """生成加锁的年报填报模板（一个单位，或按名单每个单位一个）。"""
    from nianbao.roster import RosterError, read_roster
    from nianbao.template import UnitInfo
    from nianbao.templates_out import write_roster_templates, write_single_template

    check_year(year)
    if roster is None:
        if out.suffix and not out.is_dir():  # a name without extension is a folder to write in
            out = with_suffix(out, ".xlsx", "年报模板")
        path = write_single_template(out, year, UnitInfo(unit), password=password)
        say(f"已生成模板：{path}")
        return
    try:
        units = read_roster(roster).units
    except RosterError as exc:
        raise fail(str(exc)) from None
    paths = write_roster_templates(out, year, units, password=password)
    say(f"已为 {len(paths)} 个单位生成模板，保存在 {out}")


@app.command()
@guarded
def check(
    files: Annotated[list[Path], typer.Argument(help="要校验的年报文件（或文件夹）")],
    year: Annotated[int | None, typer.Option("--year", help="应为哪一年度的报告")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出问题")] = False,
    debug: Annotated[bool, DEBUG] = False,
) -> None:
    """校验填好的年报文件：逐个文件显示通过或问题清单；文件夹则校验其中的全部文件。"""
    from nianbao.check import check_file, expand_paths

    check_year(year)
    results = [check_file(f, expected_year=year, name=str(f)) for f in expand_paths(files)]
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
    else:
        for r in results:
            print_result(r, debug)
        if len(results) > 1:
            counts = Counter(r.status for r in results)
            summary = "，".join(f"{s} {n}" for s, n in counts.items())
            say(f"共 {len(results)} 个文件：{summary}")
    bad = any(r.errors or r.report is None for r in results)
    raise typer.Exit(1 if bad else 0)


def print_result(result: FileResult, debug: bool = False) -> None:
    unit = escape(f"（{result.unit}）" if result.unit else "")
    colour = {"通过": "green", "有提示": "yellow"}.get(result.status, "red")
    console.print(
        f"[bold]{escape(result.name)}[/bold]{unit}：[{colour}]{result.status}[/{colour}]",
        soft_wrap=True,
    )
    if result.issues:
        console.print(issue_table(result.issues))
    if debug and result.debug:
        err.print(result.debug, markup=False, highlight=False, soft_wrap=True)


def issue_table(issues: list[Issue], with_unit: bool = False) -> Table:
    table = Table(show_lines=False, header_style="bold")
    if with_unit:
        table.add_column("单位")
    for name in ("级别", "位置", "问题", "代码"):
        table.add_column(name, overflow="fold")
    for i in issues:
        style = "red" if i.is_error else ("dim" if i.explained else "yellow")
        row = [escape(i.unit)] if with_unit else []
        msg = escape(i.message)
        if i.explained:
            msg += f"\n[dim]{escape(f'情况说明：{i.explanation}')}[/dim]"
        table.add_row(*row, f"[{style}]{i.status}[/{style}]", escape(i.place), msg, i.code)
    return table


def main() -> int:
    """The `nianbao` command: usage errors answered in Chinese; the exit code."""
    return run(app)


@app.command()
@guarded
def collect(
    folder: Annotated[Path, typer.Argument(help="存放各单位回传文件的文件夹")],
    roster: Annotated[Path | None, typer.Option("--roster", help="单位名单 .xlsx/.csv")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="汇总文件（默认 年报汇总.xlsx）")
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="收集哪一年度的报告")] = None,
    unit: Annotated[str, typer.Option("--unit", help="汇总单位名称（如 化隆县政务公开办）")] = "",
    previous: Annotated[
        Path | None, typer.Option("--previous", help="上年汇总文件或上年回传文件夹")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="显示内部错误的详细信息")] = False,
) -> None:
    """收集文件夹中的全部回传文件：识别单位、校验、汇总，写出汇总工作簿。"""
    from nianbao.cli_collect import run_collect

    check_year(year)
    raise typer.Exit(run_collect(folder, roster, out, year, unit, previous, debug))
