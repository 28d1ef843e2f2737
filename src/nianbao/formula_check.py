"""Were a returned template's total and check formulas replaced or rewritten?

The formulas are read from the sheet XML, never through a workbook library, and compared as
Excel, LibreOffice and WPS rewrite them (case, $, spaces, a SUM's ranges in another order).
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from nianbao.files import FileProblem, read_zip_member
from nianbao.form import Form, Layout, layout_for
from nianbao.form.layout import Cell, cell_index, col_letter
from nianbao.formulas import check_formula, overall_formula, total_formula
from nianbao.issues import HINT, Issue
from nianbao.locate import norm
from nianbao.xlsx_parts import NS, SHEET, SHEET_PART, local_name, small_part, xml_attrs

MAX_REPORTED = 10  # formula issues per file; the rest are counted in one more issue
MAX_RANGE = 10_000  # cells a SUM range may expand to when compared (a whole column is text)

_REL = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>")
_F = re.compile(rf"<{NS}f\b([^>]*?)(?:/>|>([^<]*)</{NS}f>)".encode(), re.S)
_V = re.compile(rf"<{NS}v>([^<]*)</{NS}v>".encode())
_T = re.compile(rf"<{NS}t\b[^>]*>([^<]*)</{NS}t>".encode())
_ANY_CELL = re.compile(
    rf'<{NS}c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?(?:/>|>(.*?)</{NS}c>)'.encode(), re.S
)
_CELL_OPEN = re.compile(rf"<{NS}c[\s/>]".encode())
_PIECES = re.compile(r"\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'!|[^\"']+")
_REF = re.compile(r"(?<![\w.$])(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)(?![\w(])")
_SUM = re.compile(r"SUM\(([A-Z0-9:,]+)\)")


@dataclass(frozen=True)
class _Expected:
    """A formula the template writes: where, in words, and what it must compare equal to."""

    addr: str
    where: str
    formula: str
    key: tuple
    needs: frozenset[str]  # tables that must be read exactly for the cell to be where we look


@dataclass(frozen=True)
class _SheetPlan:
    cells: dict[str, _Expected]
    fast: re.Pattern[bytes]  # these cells as every common writer writes them: <c r="J5" ...>
    pattern: re.Pattern[bytes]  # these cells with any prefix and attribute order
    label: tuple[str, str, str] = ("", "", "")  # (addr, text) confirming the sheet's layout


def formula_changes(data: bytes, form: Form, exact_tables: set[str]) -> list[Issue]:
    """TEMPLATE_MODIFIED for every total or check formula replaced or rewritten (xlsx only).

    Only cells of tables read exactly (`exact_tables`) are compared: elsewhere the template's
    addresses are not where the figures are, and the reader has reported that already.
    """
    plans = {
        sheet: plan
        for sheet, plan in _plans(form).items()
        if any(e.needs <= exact_tables for e in plan.cells.values())
    }
    if not plans:
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = _sheet_parts(zf)
            issues = []
            for sheet, plan in plans.items():
                if sheet in parts:
                    issues += _sheet_changes(zf, parts[sheet], sheet, plan, exact_tables)
    except (zipfile.BadZipFile, OSError):
        return []
    return _capped(issues)


def _capped(issues: list[Issue]) -> list[Issue]:
    if len(issues) <= MAX_REPORTED:
        return issues
    rest = len(issues) - MAX_REPORTED + 1
    first = issues[MAX_REPORTED - 1]
    more = Issue(
        "TEMPLATE_MODIFIED",
        HINT,
        f"模板被修改：另有 {rest} 个合计或校验单元格的公式被改动，请使用下发的模板重新填写。",
        sheet=first.sheet,
        cell=first.cell,
    )
    return [*issues[: MAX_REPORTED - 1], more]


_Add = Callable[[Cell, str, str, frozenset[str]], None]


@cache
def _plans(form: Form) -> dict[str, _SheetPlan]:
    """What to compare on each sheet, built once per form."""
    lay = layout_for(form)
    cells: dict[str, dict[str, _Expected]] = {}

    def add(cell: Cell, where: str, formula: str, needs: frozenset[str]) -> None:
        key = _key(formula, cell.sheet)
        cells.setdefault(cell.sheet, {})[cell.a1] = _Expected(cell.a1, where, formula, key, needs)

    for f in form.fields:
        if f.is_total:
            cell = lay.fields[f.id]
            add(cell, lay.describe(f.id), total_formula(lay, f.id), frozenset({f.table}))
    for check in lay.checks:
        table = next(t for t in form.tables if t.sheet == check.cell.sheet)
        label = check.rule.get("check_label", check.rule.code)
        where = f"{table.short}「{label}」行「{check.column.label}」列（{check.cell.a1}）"
        add(check.cell, where, check_formula(lay, check), frozenset({table.id}))
    label = _overall(lay, form, add)
    return {
        sheet: _SheetPlan(
            found,
            *_cell_patterns(list(found)),
            label if sheet == form.front_sheet else ("", "", ""),
        )
        for sheet, found in cells.items()
    }


def _overall(lay: Layout, form: Form, add: _Add) -> tuple[str, str, str]:
    """The front sheet's overall check; returns its label's (addr, text) to confirm the place."""
    cell = lay.overall_check
    if cell is None or not lay.checks:
        return ("", "", "")
    lab = next(x for x in lay.labels_of(cell.sheet) if x.cell.row == cell.row and x.role == "check")
    sheets = {c.cell.sheet for c in lay.checks}
    needs = frozenset(t.id for t in form.tables if t.sheet in sheets)
    add(cell, f"{cell.sheet}「{lab.text}」（{cell.a1}）", overall_formula(lay), needs)
    return (lab.cell.a1, lab.text, cell.a1)


def _cell_patterns(addrs: list[str]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """A fast pattern (a literal prefix lets the regex engine skip ahead) and a general one."""
    alts = "|".join(sorted(addrs, key=len, reverse=True))
    fast = rf'<c r="({alts})"([^>]*?)(?:/>|>(.*?)</c>)'
    general = rf'<{NS}c\b(?=[^>]*?\br="({alts})")([^>]*?)(?:/>|>(.*?)</{NS}c>)'
    return re.compile(fast.encode(), re.S), re.compile(general.encode(), re.S)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its part inside the zip, through workbook.xml and its relationships."""
    book, rels = small_part(zf, "xl/workbook.xml"), small_part(zf, "xl/_rels/workbook.xml.rels")
    return _parts(book, rels) if book is not None and rels is not None else {}


@lru_cache(maxsize=64)  # the same two parts in every return of one template version
def _parts(book: bytes, rels: bytes) -> dict[str, str]:
    targets = {}
    for m in _REL.finditer(rels):
        attrs = xml_attrs(m.group(1))
        targets[attrs.get("Id", "")] = attrs.get("Target", "")
    parts = {}
    for m in SHEET.finditer(book):
        attrs = xml_attrs(m.group(1))
        rid = next((v for k, v in attrs.items() if k.endswith(":id")), "")
        if rid in targets:
            parts[attrs.get("name", "")] = _part_name(targets[rid])
    return parts


def _part_name(target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join("xl", target))


def _sheet_changes(
    zf: zipfile.ZipFile, part: str, sheet: str, plan: _SheetPlan, exact: set[str]
) -> list[Issue]:
    try:
        xml = read_zip_member(zf, part, SHEET_PART)
    except (KeyError, FileProblem):
        return []
    found = {m.group(1).decode(): m for m in plan.fast.finditer(xml)}
    if len(found) < len(plan.cells):  # another writer's markup, or a cell cleared
        found = {m.group(1).decode(): m for m in plan.pattern.finditer(xml)}
    issues = []
    for addr, exp in plan.cells.items():
        if not exp.needs <= exact:
            continue
        m = found.get(addr)
        formula = _formula(m, xml, addr) if m else None
        if formula is not None and _key(formula, sheet) == exp.key:
            continue
        if m is None and not _cells_addressed(xml):
            return []  # cells without addresses: we cannot tell which one is ours
        if addr == plan.label[2] and not _label_there(zf, xml, plan.label):
            continue
        now = f" ={formula}" if formula is not None else _shown_value(zf, m)
        issues.append(_changed(sheet, exp, now))
    return issues


def _changed(sheet: str, exp: _Expected, now: str) -> Issue:
    return Issue(
        "TEMPLATE_MODIFIED",
        HINT,
        f"模板被修改：{exp.where}的公式被改动（应为 {exp.formula}，现为{now}），"
        "请核实该单元格；合计与校验已按填报的数字重新计算。",
        sheet=sheet,
        cell=exp.addr,
    )


def _formula(m: re.Match[bytes], xml: bytes, addr: str) -> str | None:
    """The cell's formula text (a shared formula's child translated from its master)."""
    f = _F.search(m.group(3) or b"")
    if f is None:
        return None
    text = _text(f.group(2) or b"")
    if text.strip() or b"shared" not in f.group(1):
        return text
    return _shared_child(xml, xml_attrs(f.group(1)).get("si", ""), addr)


@lru_cache(maxsize=4096)  # every file of a season repeats the same formula texts
def _text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _shared_child(xml: bytes, si: str, addr: str) -> str | None:
    """Rare path: Excel writes filled-down formulas once, on the range's first cell."""
    for m in _ANY_CELL.finditer(xml):
        f = _F.search(m.group(2) or b"")
        if f is None or not f.group(2):
            continue
        attrs = xml_attrs(f.group(1))
        if attrs.get("t") == "shared" and attrs.get("si") == si:
            master = cell_index(m.group(1).decode())
            here = cell_index(addr)
            text = html.unescape(f.group(2).decode("utf-8", "replace"))
            return _shift(text, here[0] - master[0], here[1] - master[1])
    return None


def _cells_addressed(xml: bytes) -> bool:
    """Whether every cell carries its address (r is optional in the format)."""
    return len(_CELL_OPEN.findall(xml)) == len(_ANY_CELL.findall(xml))


def _label_there(zf: zipfile.ZipFile, xml: bytes, label: tuple[str, str, str]) -> bool:
    """The overall check is compared only while its label stands where the template put it."""
    addr, text, _ = label
    m = re.search(
        rf'<{NS}c\b(?=[^>]*?\br="{addr}")([^>]*?)(?:/>|>(.*?)</{NS}c>)'.encode(), xml, re.S
    )
    if m is None:
        return False
    return norm(_cell_value(zf, xml_attrs(m.group(1)), m.group(2) or b"")) == norm(text)


def _shown_value(zf: zipfile.ZipFile, m: re.Match[bytes] | None) -> str:
    """What stands in a cell instead of its formula, as the message shows it."""
    if m is None:
        return "空"
    value = _cell_value(zf, xml_attrs(m.group(2)), m.group(3) or b"")
    if value == "":
        return "空"
    try:
        number = float(value)
    except ValueError:
        return f"「{value}」"
    return f" {int(number)}" if number.is_integer() and abs(number) < 1e15 else f" {value}"


def _cell_value(zf: zipfile.ZipFile, attrs: dict[str, str], inner: bytes) -> str:
    """A cell's value as text: number, shared string, inline string, boolean or error."""
    kind = attrs.get("t", "n")
    if kind == "inlineStr":
        return html.unescape(b"".join(_T.findall(inner)).decode("utf-8", "replace"))
    v = _V.search(inner)
    raw = html.unescape(v.group(1).decode("utf-8", "replace")) if v else ""
    if kind == "s" and raw.strip().isdigit():
        return _shared_string(zf, int(raw))
    if kind == "b":
        return {"1": "TRUE", "0": "FALSE"}.get(raw, raw)
    return raw


def _shared_string(zf: zipfile.ZipFile, index: int) -> str:
    """Rare path (a changed cell holds typed text): one shared string, parsed safely."""
    try:
        root = SafeET.fromstring(read_zip_member(zf, "xl/sharedStrings.xml", SHEET_PART))
    except (KeyError, FileProblem, ParseError, DefusedXmlException):
        return ""
    items = [el for el in root if local_name(el.tag) == "si"]
    if not 0 <= index < len(items):
        return ""
    return "".join(t.text or "" for t in items[index].iter() if local_name(t.tag) == "t")


# ---- formula text compared as Excel, LibreOffice and WPS rewrite it -------------------------


@lru_cache(maxsize=4096)  # every file of a season repeats the same formula texts
def _key(formula: str, sheet: str) -> tuple:
    """Comparison key: normalised text, or for a SUM over plain references the cells summed."""
    text = _normal(formula, sheet)
    m = _SUM.fullmatch(text)
    cells = _expand(m.group(1)) if m else None
    return ("sum", cells) if cells is not None else ("text", text)


def _normal(formula: str, sheet: str) -> str:
    """Upper case, no spaces, $, leading =, _xlfn. prefixes or quotes around the own sheet."""
    own = re.compile(r"(?<![\w.])" + re.escape(sheet.upper()) + "!")
    out = []
    for piece in _PIECES.findall(formula.strip().removeprefix("=")):
        if piece.startswith('"'):
            out.append(piece)  # a string literal such as "通过" compares exactly
            continue
        if piece.startswith("'"):
            piece = piece[1:-2].replace("''", "'") + "!"
        piece = re.sub(r"\s+|\$|_XLFN\.|_XLWS\.", "", piece.upper())
        out.append(own.sub("", piece))
    return "".join(out)


def _expand(args: str) -> tuple[tuple[tuple[int, int], int], ...] | None:
    """SUM's plain references as a sorted multiset of cells; None for anything else."""
    cells: Counter[tuple[int, int]] = Counter()
    for arg in args.split(","):
        ends = arg.split(":")
        if not 1 <= len(ends) <= 2 or not all(re.fullmatch(r"[A-Z]{1,3}[0-9]+", e) for e in ends):
            return None
        (r1, c1), (r2, c2) = cell_index(ends[0]), cell_index(ends[-1])
        rows, cols = range(min(r1, r2), max(r1, r2) + 1), range(min(c1, c2), max(c1, c2) + 1)
        if len(rows) * len(cols) > MAX_RANGE:
            return None
        cells.update((r, c) for r in rows for c in cols)
    return tuple(sorted(cells.items()))


def _shift(formula: str, drow: int, dcol: int) -> str:
    """Move the relative references of a shared formula to another cell of its range."""

    def move(m: re.Match[str]) -> str:
        row, col = cell_index(m.group(2) + m.group(4))
        row += 0 if m.group(3) else drow
        col += 0 if m.group(1) else dcol
        if row < 0 or col < 0:
            return "#REF!"
        return f"{m.group(1)}{col_letter(col)}{m.group(3)}{row + 1}"  # $ markers stay

    return "".join(
        p if p.startswith(('"', "'")) else _REF.sub(move, p) for p in _PIECES.findall(formula)
    )
