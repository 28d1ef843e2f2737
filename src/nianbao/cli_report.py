"""Commands `report` (workbook → published .docx) and `import` (published report → workbook)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nianbao.cli_common import check_year, console, fail, guarded, named, say, with_suffix
from nianbao.importer import ImportResult, SourceError, import_report, nothing_read, write_workbook
from nianbao.office import OfficeError
from nianbao.report import ReportError, write_report

DEBUG = typer.Option("--debug", help="显示内部错误的详细信息")


@guarded
def report(
    file: Annotated[Path, typer.Argument(help="填好的年报工作簿（或汇总工作簿）")],
    out: Annotated[Path, typer.Option("--out", help="输出的 Word 文档，如 报告.docx")],
    pdf: Annotated[bool, typer.Option("--pdf", help="同时用 LibreOffice 生成 PDF")] = False,
    debug: Annotated[bool, DEBUG] = False,
) -> None:
    """由工作簿生成可公开发布的年度报告 Word 文档（六个部分、官方表格格式）。"""
    if out.suffix.lower() != ".docx":
        raise fail(f"输出文件应以 .docx 结尾：{out}")
    _need_file(file)
    try:
        written = write_report(file, out, pdf=pdf)
    except ReportError as exc:
        raise fail(named(file, str(exc))) from None
    except OfficeError as exc:
        say(f"已生成报告：{out}")
        raise fail(f"未能生成 PDF：{exc}") from None
    for path in written:
        say(f"已生成：{path}")


@guarded
def import_(
    source: Annotated[Path, typer.Argument(help="已公开的年报（.docx、.html 或 .txt）")],
    out: Annotated[Path, typer.Option("--out", help="输出的年报工作簿 .xlsx")],
    unit: Annotated[str, typer.Option("--unit", help="单位名称（不填则从标题识别）")] = "",
    year: Annotated[int | None, typer.Option("--year", help="报告年度（不填则从正文识别）")] = None,
    debug: Annotated[bool, DEBUG] = False,
) -> None:
    """把已公开的年报读回填好的年报工作簿，以便校验和汇总；读不准的地方逐条列出。

    有未能确定的内容时退出码为 1（工作簿仍会生成）；一个数字也没读到时不生成工作簿。
    """
    check_year(year)
    _need_file(source)
    out = with_suffix(out, ".xlsx", "年报工作簿")
    try:
        result = import_report(source)
    except SourceError as exc:
        raise fail(named(source, str(exc))) from None
    except OSError as exc:
        raise fail(f"无法读取 {source}（{type(exc).__name__}），请检查文件后重试。") from None
    result.unit = unit or result.unit
    if year is not None:
        result.set_year(year)
    if result.year is None:
        raise fail(named(source, "未能识别报告年度，请用 --year 指定，如 --year 2025。"))
    refusal = nothing_read(result)
    if refusal:
        raise fail(refusal, 1)
    write_workbook(result, out)
    _print(result, out)
    raise typer.Exit(1 if result.problems else 0)


def _need_file(path: Path) -> None:
    """A missing path or a folder where a file is wanted: `错误：…` naming it, exit 2."""
    if path.is_dir():
        raise fail(f"{path} 是文件夹，请指定其中的一个文件。")
    if not path.is_file():
        raise fail(f"找不到文件 {path}，请检查路径和文件名。")


def _print(result: ImportResult, out: Path) -> None:
    say(
        f"已读取 {result.source}：单位「{result.unit or '未识别'}」，{result.year} 年度，"
        f"{len(result.values)} 个数字"
    )
    say(f"已生成工作簿：{out}（可用 nianbao check 校验）")
    if result.problems:
        console.print(
            f"[yellow]以下 {len(result.problems)} 处未能确定，请对照原文核实：[/yellow]",
            soft_wrap=True,
        )
        for problem in result.problems:
            say(f"  · {problem}")
