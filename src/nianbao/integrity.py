"""Is a returned workbook our template? (identity signals)

A template carries its identity several times over (hidden sheet, custom document properties,
defined names on the inputs), because each one can be lost: LibreOffice turns a very hidden
sheet into a hidden one a user can unhide and delete, other programs drop custom properties,
copying tables into a new workbook loses all of them. Whether its formulas were changed is
formula_check.py's question.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from functools import cache, lru_cache
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from nianbao.form import Form, layout_for
from nianbao.form.layout import Cell
from nianbao.formulas import defined_name
from nianbao.xlsx_parts import NS, SHEET, local_name, small_part, xml_attrs

PREFIX = "nianbao_"
WPS_PROPERTY = "KSOProductBuildVer"
IDENTITY_KEYS = (
    "form_id", "form_version", "year", "unit", "unit_code", "category", "parent", "template_id",
)  # fmt: skip
_NAME = re.compile(rf"<{NS}definedName\b([^>]*)>([^<]*)</{NS}definedName>".encode())


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
            book = small_part(zf, "xl/workbook.xml")
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
    raw = small_part(zf, "docProps/custom.xml")
    try:
        root = SafeET.fromstring(raw) if raw is not None else None
    except (ParseError, DefusedXmlException):
        root = None
    props = {}
    for prop in root if root is not None else ():
        if local_name(prop.tag) == "property" and prop.get("name"):
            value = next(iter(prop), None)
            props[prop.get("name", "")] = (value.text or "") if value is not None else ""
    return props


@lru_cache(maxsize=64)  # workbook.xml is the same in every return of one template version
def _book_signals(book: bytes, form: Form) -> tuple[str, int]:
    """The metadata sheet's visibility ("" if absent) and the count of the template's names."""
    return _sheet_states(book).get(form.meta_sheet, ""), _count_names(book, form)


def _sheet_states(book: bytes) -> dict[str, str]:
    """Sheet name → visible, hidden or veryHidden (a regex: workbook.xml has a fixed shape)."""
    states = {}
    for m in SHEET.finditer(book):
        attrs = xml_attrs(m.group(1))
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
