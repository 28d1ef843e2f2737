"""Terminal side of `nianbao collect`: progress bar, file and status tables, counts last."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from nianbao.collect import (
    COUNTED,
    NOT_REPORTED,
    REPORTED_ERRORS,
    REPORTED_HINTS,
    REPORTED_OK,
    Collection,
    UnitStatus,
    collect,
)
from nianbao.issues import sort_issues
from nianbao.previous import PreviousError, load_previous
from nianbao.roster import RosterError, read_roster
from nianbao.summary import file_reason, write_summary

console = Console()
err = Console(stderr=True)
DEFAULT_OUT = "年报汇总.xlsx"
COLOURS = {REPORTED_OK: "green", REPORTED_HINTS: "yellow"}


def run_collect(
    folder: Path,
    roster_path: Path | None,
    out: Path | None,
    year: int | None,
    unit: str,
    previous_path: Path | None,
    debug: bool,
) -> int:
    """Collect `folder`, write the summary, print the outcome; the exit code (0, 1 or 2)."""
    if not folder.is_dir():
        err.print(f"[red]错误：[/red]找不到文件夹 {folder}")
        return 2
    target = out or Path(DEFAULT_OUT)
    if _inside(target, folder):
        if out is None:
            err.print(
                f"[red]错误：[/red]当前目录就在回传文件夹 {folder} 内，汇总文件会被下次收集当作"
                "回传文件。请用 --out 指定回传文件夹以外的位置。"
            )
            return 2
        err.print("[yellow]提示：[/yellow]汇总文件写在回传文件夹内，下次收集前请先移走。")
    try:
        roster = read_roster(roster_path) if roster_path else None
        previous = load_previous(previous_path) if previous_path else None
    except (RosterError, PreviousError) as exc:
        err.print(f"[red]错误：[/red]{exc}")
        return 2
    with _progress() as bar:
        task = bar.add_task("读取", total=None)
        coll = collect(
            folder,
            roster=roster,
            year=year,
            previous=previous,
            progress=lambda n, total, name: bar.update(task, completed=n, total=total),
        )
    write_summary(target, coll, unit=unit, year=year)
    print_collection(coll, debug)
    console.print(f"汇总已写入：[bold]{target}[/bold]")
    return 0 if coll.complete else 1


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


BRIEF_FROM = 50  # above this many files or units, list only what needs attention
BRIEF_ISSUES = 100  # errors listed in a brief listing; the summary's 问题 sheet has them all
BRIEF_ROWS = 200  # files or units listed in a brief listing; the summary lists them all


def print_collection(coll: Collection, debug: bool = False) -> None:
    """Files and what became of them, the status of every unit, then the counts."""
    files = Table(title="文件", header_style="bold")
    for name in ("文件", "单位", "结果", "说明"):
        files.add_column(name, overflow="fold")
    brief = len(coll.outcomes) > BRIEF_FROM  # thousands of rows help nobody on a terminal
    shown = [o for o in coll.outcomes if not brief or o.fate != COUNTED or o.result.errors]
    shown = shown[:BRIEF_ROWS] if brief else shown
    for o in shown:
        files.add_row(o.result.name, o.unit, o.fate, file_reason(o))
        if debug and o.result.debug:
            err.print(o.result.debug)
    console.print(files)
    if brief:
        console.print(
            f"（其余 {len(coll.outcomes) - len(shown)} 个文件未列出（已计入且无错误的文件"
            f"不列出，最多列出 {BRIEF_ROWS} 个），详见汇总工作簿「文件清单」）"
        )
    _print_issues(coll, brief)
    _print_statuses(coll)
    for issue in coll.issues:
        console.print(f"[yellow]提示：[/yellow]{issue.message}")
    counts = "，".join(
        f"{s} {coll.count(s)}"
        for s in (REPORTED_OK, REPORTED_HINTS, REPORTED_ERRORS, NOT_REPORTED)
        if coll.with_roster or s != NOT_REPORTED
    )
    scope = f"名单内 {len(coll.statuses)} 个单位" if coll.with_roster else "未提供名单"
    console.print(
        f"[bold]{scope}：{counts}；收到文件 {len(coll.outcomes)} 个，"
        f"计入汇总 {len(coll.summed)} 个。[/bold]"
    )


def _print_issues(coll: Collection, brief: bool) -> None:
    """Every issue of the summed files; for a large season only the first errors."""
    issues = sort_issues([i for o in coll.summed for i in o.result.issues])
    listed = [i for i in issues if i.is_error][:BRIEF_ISSUES] if brief else issues
    if listed:
        from nianbao.cli import issue_table

        console.print(issue_table(listed, with_unit=True))
    if len(listed) < len(issues):
        errors = sum(1 for i in issues if i.is_error)
        console.print(
            f"（共 {errors} 条错误、{len(issues) - errors} 条提示，此处只列出前 {len(listed)} 条错误，"
            "全部问题详见汇总工作簿「问题」表）"
        )


def _print_statuses(coll: Collection) -> None:
    """Every unit's status; for a large season only the units not reported or with errors."""
    brief = len(coll.statuses) > BRIEF_FROM
    listed = coll.statuses
    if brief:
        listed = [s for s in listed if s.status not in (REPORTED_OK, REPORTED_HINTS)][:BRIEF_ROWS]
    console.print(_status_table(listed))
    if len(listed) < len(coll.statuses):
        console.print(
            f"（其余 {len(coll.statuses) - len(listed)} 个单位未列出（已报且通过、已报有提示的单位"
            f"不列出，最多列出 {BRIEF_ROWS} 个），详见汇总工作簿「报送情况」）"
        )


def _status_table(statuses: list[UnitStatus]) -> Table:
    units = Table(title="报送情况", header_style="bold")
    for name in ("单位", "状态", "文件", "错误", "提示", "已说明"):
        units.add_column(name, overflow="fold")
    for s in statuses:
        r = s.outcome.result if s.outcome else None
        colour = COLOURS.get(s.status, "red")
        numbers = (len(r.errors), len(r.open_hints), s.explained) if r else ()
        units.add_row(
            s.unit.name,
            f"[{colour}]{s.status}[/{colour}]",
            r.name if r else "",
            *(str(n) for n in numbers) if r else ("", "", ""),
        )
    return units
