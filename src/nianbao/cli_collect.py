"""Terminal side of `nianbao collect`: progress bar, file and status tables, counts last."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from nianbao.cli_common import console, err, fail, warn
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
        what = "是文件，不是文件夹（校验单个文件请用 nianbao check）" if folder.exists() else ""
        fail(f"{folder} {what}" if what else f"找不到文件夹 {folder}，请检查路径。")
        return 2
    target = out or Path(DEFAULT_OUT)
    if _inside(target, folder):
        if out is None:
            fail(
                f"当前目录就在回传文件夹 {folder} 内，汇总文件会被下次收集当作"
                "回传文件。请用 --out 指定回传文件夹以外的位置。"
            )
            return 2
        warn("汇总文件写在回传文件夹内，下次收集前请先移走。")
    try:
        roster = read_roster(roster_path) if roster_path else None
        previous = load_previous(previous_path) if previous_path else None
    except (RosterError, PreviousError) as exc:
        fail(str(exc))
        return 2
    with _progress() as bar:
        task = bar.add_task("读取", total=None)
        coll = collect(
            folder,
            roster=roster,
            year=year,
            previous=previous,
            progress=_advancer(bar, task),
        )
    write_summary(target, coll, unit=unit, year=year)
    print_collection(coll, debug)
    console.print(f"汇总已写入：[bold]{escape(str(target))}[/bold]", soft_wrap=True)
    return 0 if coll.complete else 1


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _progress() -> Progress:
    """A bar refreshed by the progress callback itself.

    Rich would otherwise refresh it from a thread, and a process with a second thread cannot
    safely fork its workers (parallel._context then starts them the slow way).
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
        auto_refresh=False,
    )


REFRESH_EVERY = 0.1  # seconds between redraws of the bar


def _advancer(bar: Progress, task: TaskID) -> Callable[[int, int, str], None]:
    """The progress callback: moves the bar, redraws it at most every REFRESH_EVERY."""
    drawn = [0.0]

    def advance(done: int, total: int, name: str) -> None:
        bar.update(task, completed=done, total=total)
        now = time.monotonic()
        if done == total or now - drawn[0] >= REFRESH_EVERY:
            bar.refresh()
            drawn[0] = now

    return advance


BRIEF_FROM = 50  # above this many files or units, list only what needs attention
BRIEF_ISSUES = 100  # errors listed in a brief listing; the summary's 问题 sheet has them all
BRIEF_ROWS = 200  # files or units listed in a brief listing; the summary lists them all


def print_collection(coll: Collection, debug: bool = False) -> None:
    """Files and what became of them, the status of every unit, then the counts."""
    brief = len(coll.outcomes) > BRIEF_FROM  # thousands of rows help nobody on a terminal
    attention = [o for o in coll.outcomes if not brief or o.fate != COUNTED or o.result.errors]
    shown = attention[:BRIEF_ROWS] if brief else attention
    files = Table(title="文件", header_style="bold")
    for name in ("文件", "单位", "结果", "说明"):
        files.add_column(name, overflow="fold")
    for o in shown:
        files.add_row(*(escape(t) for t in (o.result.name, o.unit, o.fate, file_reason(o))))
        if debug and o.result.debug:
            err.print(o.result.debug, markup=False, highlight=False, soft_wrap=True)
    if shown or not brief:
        console.print(files)
    if brief:
        _left_out(
            f"已计入且无错误的 {len(coll.outcomes) - len(attention)} 个文件未列出",
            shown, attention, "个文件", "文件清单",
        )  # fmt: skip
    _print_issues(coll, brief)
    _print_statuses(coll)
    for issue in coll.issues:
        console.print(f"[yellow]提示：[/yellow]{escape(issue.message)}", soft_wrap=True)
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


def _left_out(first: str, shown: list, attention: list, unit: str, sheet: str) -> None:
    """One line saying what a brief listing left out and where the summary lists it."""
    capped = (
        f"，只列出前 {len(shown)} {unit}（共 {len(attention)} {unit}）"
        if len(shown) < len(attention)
        else ""
    )
    console.print(escape(f"（{first}{capped}，详见汇总工作簿「{sheet}」）"), soft_wrap=True)


def _print_issues(coll: Collection, brief: bool) -> None:
    """Every issue of the summed files; for a large season only the first errors."""
    issues = sort_issues([i for o in coll.summed for i in o.result.issues])
    errors = [i for i in issues if i.is_error] if brief else issues
    listed = errors[:BRIEF_ISSUES] if brief else issues
    if listed:
        from nianbao.cli import issue_table

        console.print(issue_table(listed, with_unit=True))
    if brief and len(listed) < len(issues):
        hints = len(issues) - len(errors)
        _left_out(f"{hints} 条提示未列出", listed, errors, "条错误", "问题")


def _print_statuses(coll: Collection) -> None:
    """Every unit's status; for a large season only the units not reported or with errors."""
    brief = len(coll.statuses) > BRIEF_FROM
    quiet = (REPORTED_OK, REPORTED_HINTS)
    attention = [s for s in coll.statuses if not brief or s.status not in quiet]
    listed = attention[:BRIEF_ROWS] if brief else attention
    if listed or not brief:
        console.print(_status_table(listed))
    if brief:
        first = f"已报且通过、已报有提示的 {len(coll.statuses) - len(attention)} 个单位未列出"
        _left_out(first, listed, attention, "个单位", "报送情况")


def _status_table(statuses: list[UnitStatus]) -> Table:
    units = Table(title="报送情况", header_style="bold")
    for name in ("单位", "状态", "文件", "错误", "提示", "已说明"):
        units.add_column(name, overflow="fold")
    for s in statuses:
        r = s.outcome.result if s.outcome else None
        colour = COLOURS.get(s.status, "red")
        numbers = (len(r.errors), len(r.open_hints), s.explained) if r else ()
        units.add_row(
            escape(s.unit.name),
            f"[{colour}]{s.status}[/{colour}]",
            escape(r.name) if r else "",
            *(str(n) for n in numbers) if r else ("", "", ""),
        )
    return units
