"""Write templates to disk: one file, one per roster unit, or the blank one in templates/.

`python -m nianbao.templates_out [DIR] [--year N]` rebuilds templates/年报模板.xlsx and a PNG of
each sheet's first page (template-表三.png, …) for the README.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nianbao.atomic import write_bytes_atomic
from nianbao.form import Form, load_form
from nianbao.office import OfficeError, convert
from nianbao.roster import safe_filename
from nianbao.template import UnitInfo, template_bytes

BLANK_NAME = "年报模板.xlsx"


def write_single_template(out: Path, year: int, unit: UnitInfo, password: str = "") -> Path:
    """One template; `out` is a file, or a folder to put 「单位名称.xlsx」 in."""
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out = out / f"{safe_filename(unit.name or '年报模板')}.xlsx"
    return write_bytes_atomic(out, template_bytes(year, unit, password=password))


def roster_template_path(outdir: Path, unit: UnitInfo) -> Path:
    return Path(outdir) / f"{safe_filename(unit.name)}.xlsx"


def write_roster_templates(
    outdir: Path, year: int, units: tuple[UnitInfo, ...] | list[UnitInfo], password: str = ""
) -> list[Path]:
    """One template per unit; all are built before any is written (nothing half-done)."""
    built = [
        (roster_template_path(outdir, u), template_bytes(year, u, password=password)) for u in units
    ]
    for path, data in built:
        write_bytes_atomic(path, data)
    return [p for p, _ in built]


def season_year(today: dt.date | None = None) -> int:
    """The report year a template made today is for (reports on year N are due in January N+1)."""
    today = today or dt.date.today()
    return today.year if today.month >= 7 else today.year - 1


def write_blank_template(outdir: Path, year: int | None = None) -> Path:
    """The template without a unit, as 「年报模板.xlsx」 in outdir."""
    data = template_bytes(year or season_year(), UnitInfo())
    return write_bytes_atomic(Path(outdir) / BLANK_NAME, data)


def render_sheet_pngs(
    xlsx: Path, outdir: Path, form: Form | None = None, dpi: int = 110
) -> list[Path]:
    """A PNG of the first printed page of every sheet, named template-<sheet>.png."""
    form = form or load_form()
    titles = {form.front_sheet: form.name} | {t.sheet: t.title for t in form.tables}
    with tempfile.TemporaryDirectory(prefix="nianbao-png-") as tmp:
        pdf = convert(xlsx, "pdf", Path(tmp))
        pages = _page_texts(pdf)
        out = []
        for sheet, title in titles.items():
            page = next((i for i, text in enumerate(pages, 1) if title in text), None)
            if page is None:
                raise OfficeError(f"PDF 中找不到工作表「{sheet}」的页面。")
            out.append(_page_png(pdf, page, Path(outdir) / f"template-{sheet}.png", dpi))
    return out


def _page_texts(pdf: Path) -> list[str]:
    """The text of every page (pdftotext separates pages with a form feed)."""
    text = _tool("pdftotext", str(pdf), "-")
    return [page.replace(" ", "") for page in text.split("\f")]


def _page_png(pdf: Path, page: int, target: Path, dpi: int) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = target.with_suffix("")
    _tool("pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
          str(pdf), str(stem))  # fmt: skip
    return target


def _tool(name: str, *args: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise OfficeError(f"未找到 {name}，请先安装 poppler-utils。")
    result = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise OfficeError(f"{name} 运行失败：{result.stderr.strip()}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    """Rebuild the blank template and its PNGs (default folder: ./templates)."""
    args = list(sys.argv[1:] if argv is None else argv)
    year = None
    if "--year" in args:
        i = args.index("--year")
        year = int(args[i + 1])
        del args[i : i + 2]
    outdir = Path(args[0] if args else "templates")
    xlsx = write_blank_template(outdir, year)
    print(xlsx)
    for png in render_sheet_pngs(xlsx, outdir):
        print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
