"""The roster of reporting units (.xlsx or .csv with a header row)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import python_calamine as calamine

from nianbao.template import UnitInfo

COLUMNS = {
    "单位名称": "name",
    "单位代码": "code",
    "上级单位": "parent",
    "类别": "category",
    "联系人": "contact",
    "邮箱": "email",
}
REQUIRED = "单位名称"
HEADER_SEARCH = 5  # rows searched for the header


class RosterError(Exception):
    """A roster that cannot be used; the message names the file and row."""


@dataclass(frozen=True)
class Roster:
    path: Path
    units: tuple[UnitInfo, ...]

    def by_code(self) -> dict[str, UnitInfo]:
        return {u.code: u for u in self.units if u.code}

    def by_name(self) -> dict[str, UnitInfo]:
        return {u.name: u for u in self.units}


def read_roster(path: Path) -> Roster:
    """Read and check a roster; raises RosterError naming the row of the first problem."""
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise RosterError(f"名单文件 {path.name} 是空的。")
    at = _header_row(rows)
    if at is None:
        raise RosterError(
            f"名单文件 {path.name} 第 1 行（表头）缺少「{REQUIRED}」列。"
            f"表头应包含：{'、'.join(COLUMNS)}（后五列可选）。"
        )
    header = [_header(h) for h in rows[at]]
    index = {COLUMNS[h]: i for i, h in enumerate(header) if h in COLUMNS}
    units = _units(path, rows[at + 1 :], index, first=at + 2)
    if not units:
        raise RosterError(f"名单文件 {path.name} 中没有任何单位。")
    return Roster(path, tuple(units))


def _header_row(rows: Sequence[Sequence[object]]) -> int | None:
    """Index of the header row: rosters often carry a title row or two above it."""
    for i, row in enumerate(rows[:HEADER_SEARCH]):
        if REQUIRED in (_header(h) for h in row):
            return i
    return None


def _header(value: object) -> str:
    """A column name without the spaces and required-marks people add (「单位名称 *」)."""
    return "".join(_cell(value).split()).strip("*\uff0a")  # also the full-width asterisk


def _units(
    path: Path, rows: Sequence[Sequence[object]], index: dict[str, int], first: int
) -> list[UnitInfo]:
    units: list[UnitInfo] = []
    seen: dict[str, int] = {}
    codes: dict[str, int] = {}
    for n, row in enumerate(rows, start=first):
        values = {key: _cell(row[i]) if i < len(row) else "" for key, i in index.items()}
        if not any(_cell(v) for v in row):
            continue
        name, code = values.get("name", ""), values.get("code", "")
        if not name:
            raise RosterError(f"名单文件 {path.name} 第 {n} 行的「单位名称」为空。")
        if name in seen:
            raise RosterError(
                f"名单文件 {path.name} 第 {n} 行的单位「{name}」与第 {seen[name]} 行重复。"
            )
        if code and code in codes:
            raise RosterError(
                f"名单文件 {path.name} 第 {n} 行的单位代码「{code}」与第 {codes[code]} 行重复。"
            )
        seen[name] = n
        if code:
            codes[code] = n
        units.append(UnitInfo(**values))
    return units


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _rows(path: Path) -> Sequence[Sequence[object]]:
    if path.is_dir():  # Windows reports reading a folder as PermissionError: say it first
        raise RosterError(f"{path} 是文件夹，请用 --roster 指定名单文件（.xlsx 或 .csv）。")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"无法打开名单文件 {path}：{_why(exc)}。") from exc
    if path.suffix.lower() == ".csv":
        return [list(r) for r in csv.reader(io.StringIO(_decode(data, path)))]
    try:
        wb = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        return wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:
        raise RosterError(f"名单文件 {path.name} 无法读取：请使用 .xlsx 或 .csv 格式。") from exc


def _why(exc: OSError) -> str:
    """The reason in Chinese: the system's own text is English on most systems."""
    if isinstance(exc, FileNotFoundError):
        return "文件不存在，请检查路径和文件名"
    if isinstance(exc, PermissionError):
        return "没有读取权限，或该文件正被其他程序独占打开"
    if isinstance(exc, IsADirectoryError):
        return "这是文件夹，不是名单文件"
    return f"读取失败（{type(exc).__name__}）"


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError(f"名单文件 {path.name} 的编码无法识别，请另存为 UTF-8 编码的 CSV。")


def safe_filename(name: str) -> str:
    """A unit name usable as a Windows file name."""
    bad = '<>:"/\\|?*'
    cleaned = "".join("_" if ch in bad or ord(ch) < 32 else ch for ch in name).strip(" .")
    return cleaned or "未命名单位"
