"""LibreOffice headless: convert, really recalculate formulas, render pages to PNG."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

_XCU_ITEM = (
    '<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
    '<prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>'
)
_XCU = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n{items}\n</oor:items>\n'
)

# One profile cannot serve two soffice processes at once, so every run holds this lock.
_LOCK = threading.Lock()
_PROFILES: dict[bool, Path] = {}


class OfficeError(Exception):
    """LibreOffice is missing, or a conversion failed or timed out."""


def find_soffice() -> str | None:
    """The LibreOffice executable on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _make_profile(recalc: bool) -> Path:
    """A new profile dir whose settings recalculate on load (0) or never (1)."""
    root = Path(tempfile.mkdtemp(prefix="nianbao-lo-"))
    mode = "0" if recalc else "1"
    items = "\n".join(
        _XCU_ITEM.format(name=name, value=mode) for name in ("OOXMLRecalcMode", "ODFRecalcMode")
    )
    (root / "user").mkdir()
    (root / "user" / "registrymodifications.xcu").write_text(_XCU.format(items=items), "utf-8")
    return root


def _cached_profile(recalc: bool) -> Path:
    if recalc not in _PROFILES:
        _PROFILES[recalc] = _make_profile(recalc)
    return _PROFILES[recalc]


def _drop_profiles() -> None:
    while _PROFILES:
        shutil.rmtree(_PROFILES.popitem()[1], ignore_errors=True)


atexit.register(_drop_profiles)


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run cmd in its own process group so a timeout kills soffice.bin too."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _soffice_cmd(soffice: str, profile: Path, src: Path, fmt: str, outdir: Path) -> list[str]:
    return [
        soffice, f"-env:UserInstallation={profile.as_uri()}",
        "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
        "--convert-to", fmt, "--outdir", str(outdir), str(src),
    ]  # fmt: skip


def convert(
    src: Path, fmt: str, outdir: Path, *, recalc: bool = True, timeout: float = 180,
    reuse_profile: bool = True,
) -> Path:  # fmt: skip
    """Convert src to fmt ('xlsx', 'pdf', … or 'ext:Filter Name') in outdir; return the new file.

    LibreOffice writes into a private temp dir first, so src is never touched or overwritten.
    With reuse_profile=False a fresh profile is made for this call and removed after it.
    """
    soffice = find_soffice()
    if soffice is None:
        raise OfficeError("未找到 LibreOffice（soffice），请先安装 LibreOffice 后再试。")
    src = Path(src).resolve()
    if not src.is_file():
        raise OfficeError(f"找不到要转换的文件：{src}")
    ext = fmt.split(":", 1)[0].strip().lower()
    target = Path(outdir).resolve() / f"{src.stem}.{ext}"
    if target == src:
        raise OfficeError(f"输出文件会覆盖源文件，请换一个输出目录：{src}")
    with _LOCK, tempfile.TemporaryDirectory(prefix="nianbao-out-") as tmp:
        profile = _cached_profile(recalc) if reuse_profile else _make_profile(recalc)
        try:
            result = _run(_soffice_cmd(soffice, profile, src, fmt, Path(tmp)), timeout)
        except subprocess.TimeoutExpired:
            _discard(profile, reuse_profile, recalc)
            raise OfficeError(f"LibreOffice 转换超时（{timeout:g} 秒）：{src.name}") from None
        if not reuse_profile:
            shutil.rmtree(profile, ignore_errors=True)
        produced = Path(tmp) / target.name
        if result.returncode != 0 or not produced.is_file():
            detail = (result.stderr or result.stdout).strip()
            raise OfficeError(f"LibreOffice 无法把 {src.name} 转换为 {ext}：{detail}")
        target.parent.mkdir(parents=True, exist_ok=True)
        for item in Path(tmp).iterdir():  # html export may add image files
            shutil.move(str(item), target.parent / item.name)
    return target


def _discard(profile: Path, cached: bool, recalc: bool) -> None:
    """Forget a profile a killed process may have left locked or half-written."""
    if cached:
        _PROFILES.pop(recalc, None)
    shutil.rmtree(profile, ignore_errors=True)


def recalculated_values(src: Path, workdir: Path) -> dict[str, list[list[object]]]:
    """Every sheet's cell values after LibreOffice has recalculated all formulas."""
    xlsx = convert(src, "xlsx", workdir, recalc=True)
    import openpyxl  # heavy (numpy): imported only by the few callers that recalculate

    wb = openpyxl.load_workbook(xlsx, data_only=True, read_only=True)
    try:
        return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb}
    finally:
        wb.close()


def render_png(
    src: Path, outdir: Path, *, first_page_only: bool = True, dpi: int = 80
) -> list[Path]:
    """Render src (xlsx/docx/…) to PNG page images in outdir via PDF and pdftoppm."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise OfficeError("未找到 pdftoppm，请先安装 poppler-utils。")
    pdf = convert(src, "pdf", outdir)
    stem = pdf.with_suffix("")
    pages = ["-f", "1", "-l", "1", "-singlefile"] if first_page_only else []
    cmd = [pdftoppm, "-png", "-r", str(dpi), *pages, str(pdf), str(stem)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise OfficeError(f"PDF 转 PNG 失败：{pdf.name}：{result.stderr.strip()}")
    if first_page_only:
        return [stem.with_suffix(".png")]
    return sorted(pdf.parent.glob(f"{glob.escape(stem.name)}-*.png"))
