"""Terminal side of `nianbao collect`: progress bar, status table, summary counts."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from nianbao.collect import NOT_REPORTED, Collection, collect
from nianbao.previous import PreviousError, load_previous
from nianbao.roster import RosterError, read_roster
from nianbao.summary import write_summary

console = Console()
err = Console(stderr=True)
DEFAULT_OUT = "年报汇总.xlsx"


def run_collect(folder: Path, roster_path: Path | None, out: Path | None, year: int | None,
                unit: str, previous_path: Path | None, debug: bool) -> int:
    if not folder.is_dir():
        err.print(f"[red]错误：[/red]找不到文件夹 {folder}")
        return 2
    try:
        roster = read_roster(roster_path) if roster_path else None
        previous = load_previous(previous_path) if previous_path else None
    except (RosterError, PreviousError) as exc:
        err.print(f"[red]错误：[/red]{exc}")
        return 2
    out = out or Path(DEFAULT_OUT)
    with _progress() as bar:
        task = bar.add_task("读取", total=None)
        coll = collect(folder, roster=roster, year=year, previous=previous,
                       progress=lambda n, total, name: bar.update(task, completed=n, total=total))
    write_summary(out, coll, unit=unit, year=year)
    print_collection(coll, debug)
    console.print(f"汇总已写入：[bold]{out}[/bold]")
    return 0 if coll.complete else 1


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def print_collection(coll: Collection, debug: bool = False) -> None:
    files = Table(title="文件", header_style="bold")
    for name in ("文件", "单位", "结果", "说明"):
        files.add_column(name, overflow="fold")
    for o in coll.outcomes:
        reason = o.note or "；".join(i.message for i in o.result.issues if o.result.report is None)
        files.add_row(o.result.name, o.unit, o.fate, reason)
        if debug and o.result.debug:
            err.print(o.result.debug)
    console.print(files)
    units = Table(title="报送情况", header_style="bold")
    for name in ("单位", "状态", "文件", "错误", "提示"):
        units.add_column(name, overflow="fold")
    for s in coll.statuses:
        r = s.outcome.result if s.outcome else None
        colour = {"已报且通过": "green", "已报有提示": "yellow"}.get(s.status, "red")
        units.add_row(s.unit.name, f"[{colour}]{s.status}[/{colour}]", r.name if r else "",
                      str(len(r.errors)) if r else "", str(len(r.open_hints)) if r else "")
    console.print(units)
    for issue in coll.issues:
        console.print(f"[yellow]提示：[/yellow]{issue.message}")
    counts = "，".join(f"{s} {coll.count(s)}" for s in
                      ("已报且通过", "已报有提示", "已报有错误", NOT_REPORTED))
    console.print(f"[bold]共 {len(coll.statuses)} 个单位：{counts}；收到文件 {len(coll.outcomes)} 个。[/bold]")
