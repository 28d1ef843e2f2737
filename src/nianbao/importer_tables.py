"""Lines of one table's part of a published report → its figures, found by the official labels.

A row is recognised by the end of its label text (parent labels, numbering and line breaks
before it do not matter); its figures are the cells after the label. What cannot be read with
certainty becomes a problem naming its place; nothing is filled in by guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from nianbao.form import Table
from nianbao.form.model import Axis, Block
from nianbao.importer_sources import Line
from nianbao.locate import norm
from nianbao.numbers import parse_number

_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十]+\)|\d{1,2}\.)")
_NUMBERED_CELL = re.compile(r"^\d{1,2}[.、]\s*\D")
_VALUE_START = re.compile(r"^[约近共计合]?\d")

# Wording of published reports that differs from the official label (by row id).
VARIANTS: dict[str, tuple[str, ...]] = {"t2.normative": ("规范性文件",)}

# Labels that only the 2019 trial form (basis 2019 No. 60) has: their columns do not
# mean what the 2021 columns mean, so such a table is reported, not read.
OLD_FORM_MARKERS = (
    "本年新制作数量",
    "本年新公开数量",
    "对外公开总数量",
    "上一年项目数量",
    "本年增/减",
    "第二十条第(九)项",
    "采购项目数量",
    "采购总金额",
    "其他对外管理服务事项",
)


def key(text: str) -> str:
    """Label text compared loosely: NFKC, no white space, 「1、」 read as 「1.」."""
    return re.sub(r"(?<![\d.])(\d{1,2})、", r"\1.", norm(text))


def unnumbered(text: str) -> str:
    """A key without its leading numbering 「一、」「(一)」「1.」."""
    return _NUMBERING.sub("", key(text))


def value_like(cell: str) -> bool:
    """A cell that holds (or tries to hold) a figure, not a label like 「3. 其他」."""
    if parse_number(cell).status in ("ok", "placeholder"):
        return True
    text = unicodedata.normalize("NFKC", cell).strip()
    return bool(_VALUE_START.match(text)) and not _NUMBERED_CELL.match(text)


def split_row(line: Line) -> tuple[str, list[str]]:
    """Label text (cells up to the last label-like one) and the value cells after it."""
    cells = line.cells
    last = max((i for i, c in enumerate(cells) if c and not value_like(c)), default=-1)
    return "".join(cells[: last + 1]), list(cells[last + 1 :])


@dataclass
class TableRead:
    """What was read of one table."""

    values: dict[str, float] = field(default_factory=dict)
    stored: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    rows_found: int = 0


@dataclass(frozen=True)
class _Row:
    field_prefix: str  # "t3.new"
    block: Block
    axis: Axis

    @property
    def name(self) -> str:
        """「（三）不予公开 1. 属于国家秘密」: the group is named for a label like 「1. …」."""
        path = self.axis.path
        if len(path) > 2 or (len(path) == 2 and re.match(r"^\d", path[-1])):
            return " ".join(path[-2:])
        return path[-1] if path else ""


def _row_keys(table: Table) -> tuple[dict[str, _Row], set[str], list[_Row]]:
    """Every key a row may end with → the row; the full labels; the rows without a label."""
    rows = [_Row(f"{table.id}.{r.id}", b, r) for b in table.blocks for r in b.rows]
    keys: dict[str, _Row] = {}
    bare: dict[str, list[_Row]] = {}
    for row in rows:
        if not row.axis.path:
            continue
        keys[key(row.axis.label)] = row
        bare.setdefault(unnumbered(row.axis.label), []).append(row)
        for variant in VARIANTS.get(row.field_prefix, ()):
            keys[key(variant)] = row
    full = set(keys)
    for text, same in bare.items():
        if len(same) == 1 and text:
            keys.setdefault(text, same[0])
    return keys, full, [r for r in rows if not r.axis.path]


def _match(label: str, keys: dict[str, _Row]) -> _Row | None:
    """The row whose longest key the label text ends with."""
    text = key(label)
    hits = [k for k in keys if text.endswith(k)]
    return keys[max(hits, key=len)] if hits else None


def read_table(lines: list[Line], table: Table) -> TableRead:
    """Figures of `table` from the lines of its part of the document."""
    out = TableRead()
    old = _old_form_marker(lines)
    if old is not None:
        line, marker = old
        out.problems.append(
            f"{line.place(table.sheet)}：{table.short}是2019年试行格式（有「{marker}」），"
            f"栏目含义与2021年格式不同，未读取{table.short}的数字，请按2021年格式手工填写"
        )
        return out
    keys, full, unlabelled = _row_keys(table)
    seen: dict[str, Line] = {}
    pending = ""
    for line in lines:
        label, cells = split_row(line)
        if not any(cells) and not (cells and _last_label(line) in full):
            pending += label  # a header, or a label broken over lines
            continue
        row = _match(pending + label, keys) or _unlabelled(label, unlabelled, seen)
        pending = ""
        if row is None:
            for prefix in _unknown_row(out, line, label, table):
                seen[prefix] = line
        elif row.field_prefix in seen:
            first = seen[row.field_prefix].place(table.sheet)
            out.problems.append(
                f"{line.place(table.sheet)}：{table.short}「{row.name}」行重复出现"
                f"（已按{first}读取），本行未读取"
            )
        else:
            seen[row.field_prefix] = line
            _read_row(out, line, row, cells, table)
    _missing_rows(out, table, keys, unlabelled, seen)
    return out


def _last_label(line: Line) -> str:
    """Key of the last label cell: a row of blank figures (all 0) is known by its own label."""
    return key(next((c for c in reversed(line.cells) if c and not value_like(c)), ""))


def _unlabelled(label: str, rows: list[_Row], seen: dict[str, Line]) -> _Row | None:
    """表四's one row has no label: the first row of figures without a label is it."""
    if key(label):
        return None
    return next((r for r in rows if r.field_prefix not in seen), None)


def _old_form_marker(lines: list[Line]) -> tuple[Line, str] | None:
    markers = {key(m): m for m in OLD_FORM_MARKERS}
    for line in lines:
        for cell in line.cells:
            k = key(cell)
            for mk, marker in markers.items():
                if mk in k:
                    return line, marker
    return None


def _unknown_row(out: TableRead, line: Line, label: str, table: Table) -> list[str]:
    """A row of figures whose label is not in the form: an old single row, or unknown.

    Returns the rows the line stands for (the parts of a group printed as one row).
    """
    group = _old_single_row(label, table)
    where = line.place(table.sheet)
    shown = label or "（无标签）"
    if group is None:
        out.problems.append(f"{where}：「{shown}」不是{table.short}的行，本行数字未读取")
        return []
    parent, target = group
    siblings = [r for r in target.block.rows if r.path[:-1] == target.axis.path[:-1]]
    parts = len(siblings)
    out.problems.append(
        f"{where}：{table.short}「{parent}」只有一行（2019年试行格式，2021年格式分为{parts}行），"
        f"已计入「{target.axis.label}」，请核实"
    )
    _read_row(out, line, target, split_row(line)[1], table)
    return [f"{table.id}.{r.id}" for r in siblings]


def _old_single_row(label: str, table: Table) -> tuple[str, _Row] | None:
    """A group printed as one row, whose last part is 「其他」: its figures go to that part."""
    text = key(label)
    for block in table.blocks:
        for row in reversed(block.rows):
            if len(row.path) < 2 or unnumbered(row.label) != "其他":
                continue
            parent = row.path[-2]
            if text.endswith(key(parent)):
                return parent, _Row(f"{table.id}.{row.id}", block, row)
    return None


def _fit(cells: list[str], full: int, short: int) -> list[str] | None:
    """Value cells trimmed of the empty cells a copied table adds; None when the count is off."""
    cells = list(cells)
    while len(cells) > full and not cells[-1]:
        cells.pop()
    while len(cells) > full and not cells[0]:
        cells.pop(0)
    return cells if len(cells) in (full, short) else None


def _read_row(out: TableRead, line: Line, row: _Row, cells: list[str], table: Table) -> None:
    columns = row.block.columns
    inputs = [c for c in columns if not c.sum_of]
    fitted = _fit(cells, len(columns), len(inputs))
    where = line.place(table.sheet)
    if fitted is None:
        count = sum(1 for c in cells if c)
        expected = f"{len(columns)} 个" + (
            f"（或不含总计的 {len(inputs)} 个）" if len(inputs) != len(columns) else ""
        )
        out.problems.append(
            f"{where}：{table.short}「{row.name or '数字'}」行有 {count} 个数字，应为 {expected}，"
            "无法确定对应的列，本行未读取"
        )
        return
    out.rows_found += 1
    for column, cell in zip(columns if len(fitted) == len(columns) else inputs, fitted):
        _store(out, f"{row.field_prefix}.{column.id}", column, cell, where, row, table)


def _store(
    out: TableRead, fid: str, column: Axis, cell: str, where: str, row: _Row, table: Table
) -> None:
    parsed = parse_number(cell)
    place = f"{where}：{table.short}「{row.name or '数字'}」行「{column.label}」列"
    if fid in _totals(table):
        if parsed.status == "ok":
            out.stored[fid] = parsed.value
        return
    if parsed.status == "invalid":
        out.problems.append(f"{place}「{cell}」不是数字，未读取")
        return
    if parsed.status == "placeholder":
        out.problems.append(f"{place}填的是「{cell}」，已按 0 读取")
    out.values[fid] = parsed.value


def _totals(table: Table) -> set[str]:
    """Total cells of the table: a total column, or any cell of a total row."""
    return {
        f"{table.id}.{r.id}.{c.id}"
        for b in table.blocks
        for r in b.rows
        for c in b.columns
        if r.sum_of or c.sum_of
    }


def _missing_rows(
    out: TableRead, table: Table, keys: dict[str, _Row], unlabelled: list[_Row], seen: dict
) -> None:
    rows = {r.field_prefix: r for r in (*keys.values(), *unlabelled)}
    missing = [r for prefix, r in rows.items() if prefix not in seen]
    if not missing:
        return
    if len(missing) == len(rows):
        out.problems.append(
            f"{table.short}：文中没有找到{table.short}的数字（表格可能是图片或缺失），未读取"
        )
        return
    names = "、".join(f"「{r.name}」" for r in missing)
    out.problems.append(f"{table.short}：没有找到 {names} 行，未读取（按 0 计）")
