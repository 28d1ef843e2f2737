"""Commands `report` (workbook → published .docx) and `import` (published report → workbook)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nianbao.importer import ImportResult, SourceError, import_report, write_workbook
from nianbao.office import OfficeError
from nianbao.report import ReportError, write_report

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]错误：[/red]{message}")
    return typer.Exit(2)


def report(
    file: Annotated[Path, typer.Argument(help="填好的年报工作簿（或汇总工作簿）")],
    out: Annotated[Path, typer.Option("--out", help="输出的 Word 文档，如 报告.docx")],
    pdf: Annotated[bool, typer.Option("--pdf", help="同时用 LibreOffice 生成 PDF")] = False,
) -> None:
    """由工作簿生成可公开发布的年度报告 Word 文档（六个部分、官方表格格式）。"""
    if out.suffix.lower() != ".docx":
        raise _fail(f"输出文件应以 .docx 结尾：{out}")
    try:
        written = write_report(file, out, pdf=pdf)
    except ReportError as exc:
        raise _fail(str(exc)) from None
    except OfficeError as exc:
        console.print(f"已生成报告：{out}")
        raise _fail(f"未能生成 PDF：{exc}") from None
    for path in written:
        console.print(f"已生成：{path}")


def import_(
    source: Annotated[Path, typer.Argument(help="已公开的年报（.docx、.html 或 .txt）")],
    out: Annotated[Path, typer.Option("--out", help="输出的年报工作簿 .xlsx")],
    unit: Annotated[str, typer.Option("--unit", help="单位名称（不填则从标题识别）")] = "",
    year: Annotated[int | None, typer.Option("--year", help="报告年度（不填则从正文识别）")] = None,
) -> None:
    """把已公开的年报读回填好的年报工作簿，以便校验和汇总；读不准的地方逐条列出。

    有未能确定的内容时退出码为 1（工作簿仍会生成）。
    """
    if not source.is_file():
        raise _fail(f"找不到文件：{source}")
    try:
        result = import_report(source)
    except SourceError as exc:
        raise _fail(str(exc)) from None
    result.unit = unit or result.unit
    result.year = year or result.year
    if result.year is None:
        raise _fail("未能识别报告年度，请用 --year 指定，如 --year 2025。")
    write_workbook(result, out)
    _print(result, out)
    raise typer.Exit(1 if result.problems else 0)


def _print(result: ImportResult, out: Path) -> None:
    console.print(
        f"已读取 {result.source}：单位「{result.unit or '未识别'}」，{result.year} 年度，"
        f"{len(result.values)} 个数字"
    )
    console.print(f"已生成工作簿：{out}（可用 nianbao check 校验）")
    if result.problems:
        console.print(f"[yellow]以下 {len(result.problems)} 处未能确定，请对照原文核实：[/yellow]")
        for problem in result.problems:
            console.print(f"  · {problem}")
