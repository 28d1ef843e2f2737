"""Is a returned workbook our template, and were its formulas changed? (identity and tampering)

A template carries its identity several times over (hidden sheet, custom document properties,
defined names on the inputs), because each one can be lost: LibreOffice turns a very hidden
sheet into a hidden one a user can unhide and delete, other programs drop custom properties,
copying tables into a new workbook loses all of them. Formulas are read from the sheet XML,
never through a workbook library, so that reading stays a few hundred microseconds per file.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from nianbao.files import FileProblem, read_zip_member
from nianbao.form import Form, Layout, layout_for
from nianbao.form.layout import Cell, a1
from nianbao.issues import HINT, Issue
from nianbao.locate import norm
from nianbao.template import _overall_formula, check_formula, defined_name, sum_formula

PREFIX = "nianbao_"
WPS_PROPERTY = "KSOProductBuildVer"
IDENTITY_KEYS = (
    "form_id", "form_version", "year", "unit", "unit_code", "category", "parent", "template_id",
)  # fmt: skip
SMALL_PART = 4 * 1024 * 1024  # custom.xml, workbook.xml, rels: kilobytes in any honest file
SHEET_PART = 64 * 1024 * 1024  # files.check_zip has bounded the whole archive already
MAX_REPORTED = 10  # formula issues per file; the rest are counted in one more issue
MAX_RANGE = 10_000  # cells a SUM range may expand to when compared (a whole column is text)

_NS = r"(?:[\w.-]+:)?"  # writers may prefix SpreadsheetML elements (x:c, x:f)
_ATTR = re.compile(r'([\w:.-]+)\s*=\s*"([^"]*)"')
_SHEET = re.compile(rf"<{_NS}sheet\b([^>]*)>".encode())
_NAME = re.compile(rf"<{_NS}definedName\b([^>]*)>([^<]*)</{_NS}definedName>".encode())
_REL = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>")
_F = re.compile(rf"<{_NS}f\b([^>]*?)(?:/>|>([^<]*)</{_NS}f>)".encode(), re.S)
_V = re.compile(rf"<{_NS}v>([^<]*)</{_NS}v>".encode())
_T = re.compile(rf"<{_NS}t\b[^>]*>([^<]*)</{_NS}t>".encode())
_ANY_CELL = re.compile(
    rf'<{_NS}c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?(?:/>|>(.*?)</{_NS}c>)'.encode(), re.S
)
_CELL_OPEN = re.compile(rf"<{_NS}c[\s/>]".encode())
_PIECES = re.compile(r"\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'!|[^\"']+")
_REF = re.compile(r"(?<![\w.$])(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)(?![\w(])")
_SUM = re.compile(r"SUM\(([A-Z0-9:,]+)\)")


@dataclass(frozen=True)
class Signals:
    """What identifies a returned file as our template; each may be missing."""

    meta: bool  # a sheet named like the metadata sheet exists (any visibility)
    custom: dict[str, str] = field(default_factory=dict)  # nianbao_* custom properties
    names: int = 0  # the template's defined names present and pointing at the layout's cells
    wps: bool = False  # saved by WPS
    meta_state: str = ""  # visible, hidden or veryHidden: hidden means a LibreOffice round trip


def read_signals(data: bytes, form: Form) -> Signals:
    """The identity signals of an .xlsx/.xlsm; absent parts give empty signals, never errors."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            props = _custom_properties(zf)
            book = _member(zf, "xl/workbook.xml")
    except (zipfile.BadZipFile, OSError):
        return Signals(False)
    custom = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    wps = WPS_PROPERTY in props
    if book is None:
        return Signals(False, custom, 0, wps)
    state, names = _book_signals(book, form)
    return Signals(bool(state), custom, names, wps, state)


def identity_from_custom(custom: dict[str, str]) -> dict[str, str] | None:
    """The metadata sheet's keys rebuilt from custom properties; None without a form id."""
    if not custom.get("form_id"):
        return None
    clean = {k: "" if v == "-" else v for k, v in custom.items()}  # "-" stands for empty
    return {**clean, **{k: clean.get(k, "") for k in IDENTITY_KEYS}}


def expected_names(form: Form) -> dict[str, Cell]:
    """Every defined name a template writes (inputs, totals, texts) → the cell it names."""
    lay = layout_for(form)
    names = {defined_name(f.id): lay.fields[f.id] for f in form.fields}
    names.update({defined_name("text." + t.id): t.cell for t in lay.texts.values()})
    return names


def _custom_properties(zf: zipfile.ZipFile) -> dict[str, str]:
    """Custom document properties (a few hundred bytes), parsed with defusedxml."""
    raw = _member(zf, "docProps/custom.xml")
    try:
        root = SafeET.fromstring(raw) if raw is not None else None
    except (ParseError, DefusedXmlException):
        root = None
    props = {}
    for prop in root if root is not None else ():
        if _local(prop.tag) == "property" and prop.get("name"):
            value = next(iter(prop), None)
            props[prop.get("name", "")] = (value.text or "") if value is not None else ""
    return props


def _member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A small part; None when absent or larger than any honest one."""
    try:
        return read_zip_member(zf, name, SMALL_PART)
    except (KeyError, FileProblem):
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=64)  # workbook.xml is the same in every return of one template version
def _book_signals(book: bytes, form: Form) -> tuple[str, int]:
    """The metadata sheet's visibility ("" if absent) and the count of the template's names."""
    return _sheet_states(book).get(form.meta_sheet, ""), _count_names(book, form)


def _sheet_states(book: bytes) -> dict[str, str]:
    """Sheet name → visible, hidden or veryHidden (a regex: workbook.xml has a fixed shape)."""
    states = {}
    for m in _SHEET.finditer(book):
        attrs = _attrs(m.group(1))
        states[attrs.get("name", "")] = attrs.get("state", "visible")
    return states


def _count_names(book: bytes, form: Form) -> int:
    """Workbook-level names of the template that still point at their cells."""
    wanted = _wanted_names(form)
    found = 0
    for attrs, target in _NAME.findall(book):
        start = attrs.find(b' name="') + 7  # no other attribute of definedName ends in "name"
        name = attrs[start : attrs.find(b'"', start)] if start >= 7 else b""
        if b"localSheetId" not in attrs and wanted.get(name) == _normal_ref(target):
            found += 1
    return found


@cache
def _wanted_names(form: Form) -> dict[bytes, str]:
    return {
        name.encode(): f"{cell.sheet}!{cell.a1}".upper()
        for name, cell in expected_names(form).items()
    }


@lru_cache(maxsize=4096)  # the same targets in every file of a season
def _normal_ref(raw: bytes) -> str:
    """'表三'!$J$5, 表三!J5 and =表三!$J$5 all become 表三!J5."""
    text = html.unescape(raw.decode("utf-8", "replace")).strip().lstrip("=").replace("$", "")
    sheet, _, addr = text.rpartition("!")
    if len(sheet) > 1 and sheet[0] == sheet[-1] == "'":
        sheet = sheet[1:-1].replace("''", "'")
    return f"{sheet}!{addr}".upper()


# ---- formulas -------------------------------------------------------------------------------


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
            formula = sum_formula([lay.fields[p] for p in f.sum_of])
            add(cell, lay.describe(f.id), formula, frozenset({f.table}))
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


def _overall(lay: Layout, form: Form, add) -> tuple[str, str, str]:
    """The front sheet's overall check; returns its label's (addr, text) to confirm the place."""
    cell = lay.overall_check
    if cell is None or not lay.checks:
        return ("", "", "")
    lab = next(x for x in lay.labels_of(cell.sheet) if x.cell.row == cell.row and x.role == "check")
    sheets = {c.cell.sheet for c in lay.checks}
    needs = frozenset(t.id for t in form.tables if t.sheet in sheets)
    add(cell, f"{cell.sheet}「{lab.text}」（{cell.a1}）", _overall_formula(lay), needs)
    return (lab.cell.a1, lab.text, cell.a1)


def _cell_patterns(addrs: list[str]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """A fast pattern (a literal prefix lets the regex engine skip ahead) and a general one."""
    alts = "|".join(sorted(addrs, key=len, reverse=True))
    fast = rf'<c r="({alts})"([^>]*?)(?:/>|>(.*?)</c>)'
    general = rf'<{_NS}c\b(?=[^>]*?\br="({alts})")([^>]*?)(?:/>|>(.*?)</{_NS}c>)'
    return re.compile(fast.encode(), re.S), re.compile(general.encode(), re.S)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its part inside the zip, through workbook.xml and its relationships."""
    book, rels = _member(zf, "xl/workbook.xml"), _member(zf, "xl/_rels/workbook.xml.rels")
    return _parts(book, rels) if book is not None and rels is not None else {}


@lru_cache(maxsize=64)  # the same two parts in every return of one template version
def _parts(book: bytes, rels: bytes) -> dict[str, str]:
    targets = {}
    for m in _REL.finditer(rels):
        attrs = _attrs(m.group(1))
        targets[attrs.get("Id", "")] = attrs.get("Target", "")
    parts = {}
    for m in _SHEET.finditer(book):
        attrs = _attrs(m.group(1))
        rid = next((v for k, v in attrs.items() if k.endswith(":id")), "")
        if rid in targets:
            parts[attrs.get("name", "")] = _part_name(targets[rid])
    return parts


def _attrs(raw: bytes) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in _ATTR.findall(raw.decode("utf-8", "replace"))}


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
    return _shared_child(xml, _attrs(f.group(1)).get("si", ""), addr)


@lru_cache(maxsize=4096)  # every file of a season repeats the same formula texts
def _text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _shared_child(xml: bytes, si: str, addr: str) -> str | None:
    """Rare path: Excel writes filled-down formulas once, on the range's first cell."""
    for m in _ANY_CELL.finditer(xml):
        f = _F.search(m.group(2) or b"")
        if f is None or not f.group(2):
            continue
        attrs = _attrs(f.group(1))
        if attrs.get("t") == "shared" and attrs.get("si") == si:
            master = _rc(m.group(1).decode())
            here = _rc(addr)
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
        rf'<{_NS}c\b(?=[^>]*?\br="{addr}")([^>]*?)(?:/>|>(.*?)</{_NS}c>)'.encode(), xml, re.S
    )
    if m is None:
        return False
    return norm(_cell_value(zf, _attrs(m.group(1)), m.group(2) or b"")) == norm(text)


def _shown_value(zf: zipfile.ZipFile, m: re.Match[bytes] | None) -> str:
    """What stands in a cell instead of its formula, as the message shows it."""
    if m is None:
        return "空"
    value = _cell_value(zf, _attrs(m.group(2)), m.group(3) or b"")
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
    items = [el for el in root if _local(el.tag) == "si"]
    if not 0 <= index < len(items):
        return ""
    return "".join(t.text or "" for t in items[index].iter() if _local(t.tag) == "t")


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
        (r1, c1), (r2, c2) = _rc(ends[0]), _rc(ends[-1])
        rows, cols = range(min(r1, r2), max(r1, r2) + 1), range(min(c1, c2), max(c1, c2) + 1)
        if len(rows) * len(cols) > MAX_RANGE:
            return None
        cells.update((r, c) for r in rows for c in cols)
    return tuple(sorted(cells.items()))


def _rc(addr: str) -> tuple[int, int]:
    """A1 → (0, 0)."""
    m = re.fullmatch(r"\$?([A-Za-z]+)\$?([0-9]+)", addr)
    if m is None:
        raise ValueError(addr)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _shift(formula: str, drow: int, dcol: int) -> str:
    """Move the relative references of a shared formula to another cell of its range."""

    def move(m: re.Match[str]) -> str:
        row, col = _rc(m.group(2) + m.group(4))
        row += 0 if m.group(3) else drow
        col += 0 if m.group(1) else dcol
        if row < 0 or col < 0:
            return "#REF!"
        return f"{m.group(1)}{_letters(col)}{m.group(3)}{row + 1}"  # $ markers stay

    return "".join(
        p if p.startswith(('"', "'")) else _REF.sub(move, p) for p in _PIECES.findall(formula)
    )


def _letters(col: int) -> str:
    return re.sub(r"[0-9]+$", "", a1(0, col))
