"""Parse what people type into a figure cell: 12, " 12 ", "１２", "12件", "/", "—"."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

PLACEHOLDERS = frozenset({"/", "／", "-", "—", "——", "–", "无", "空", "\\", "×", "x", "X"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NOTE = re.compile(r"^([+-]?[\d.,]+)\s*(件|个|万元|元)?\s*([（(].*[)）])?$")


@dataclass(frozen=True, slots=True)  # slots: a province's summary holds millions of these
class Parsed:
    value: float
    status: str  # "ok", "blank", "placeholder", "invalid"
    raw: object = None


def parse_number(raw: object) -> Parsed:
    """A figure from a cell value; blanks are 0, placeholders 0 with their own status."""
    if raw.__class__ is float:  # what a figure cell almost always holds
        return _ok_float(raw) if math.isfinite(raw) else Parsed(0.0, "invalid", raw)
    if raw is None:
        return _BLANK
    if raw == "":
        return Parsed(0.0, "blank", raw)
    if isinstance(raw, bool):
        return Parsed(0.0, "invalid", raw)
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and not math.isfinite(raw):
            return Parsed(0.0, "invalid", raw)
        return Parsed(float(raw), "ok", raw)
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "")
    if not text:
        return Parsed(0.0, "blank", raw)
    if text in PLACEHOLDERS:
        return Parsed(0.0, "placeholder", raw)
    match = _NOTE.match(text)
    if match:
        digits = match.group(1).replace(",", "")
        if _NUMBER.match(digits):
            return Parsed(float(digits), "ok", raw)
    return Parsed(0.0, "invalid", raw)


_BLANK = Parsed(0.0, "blank", None)
_OK: dict[float, Parsed] = {}  # the same few figures recur in every file: share them (immutable)
_OK_MAX = 4096


def _ok_float(raw: float) -> Parsed:
    if raw == 0.0 and math.copysign(1.0, raw) < 0:  # -0.0 == 0.0 as a key: keep its own sign
        return Parsed(raw, "ok", raw)
    parsed = _OK.get(raw)
    if parsed is None:
        parsed = Parsed(raw, "ok", raw)
        if len(_OK) < _OK_MAX:
            _OK[raw] = parsed
    return parsed


def is_whole(value: float) -> bool:
    return math.isfinite(value) and value == int(value)


def show(value: float) -> str:
    """12 for whole numbers, 0.0125 for amounts (never 12.0)."""
    if is_whole(value):
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".")
