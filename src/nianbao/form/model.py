"""The form model: dataclasses built from a declaration file (e.g. gb2021.toml)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from operator import itemgetter
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# A rule's own severity, as the declaration writes it; issues.severity_of maps it to 错误/提示.
Severity = Literal["强制", "提示"]
MANDATORY: Severity = "强制"
ADVISORY: Severity = "提示"


@dataclass(frozen=True)
class Axis:
    """A row or a column of a table block; `sum_of` makes it a computed total."""

    id: str
    path: tuple[str, ...]
    sum_of: tuple[str, ...] = ()
    code: str = ""

    @property
    def label(self) -> str:
        return self.path[-1] if self.path else ""


@dataclass(frozen=True)
class Block:
    header: str
    corner: str
    kind: str
    columns: tuple[Axis, ...]
    rows: tuple[Axis, ...]

    @property
    def label_depth(self) -> int:
        return max((len(r.path) for r in self.rows), default=0)

    @property
    def header_depth(self) -> int:
        return max(len(c.path) for c in self.columns)


@dataclass(frozen=True)
class Table:
    id: str
    sheet: str
    title: str
    landscape: bool
    blocks: tuple[Block, ...]

    @property
    def short(self) -> str:
        """「表三」 style name used in messages."""
        return self.sheet


@dataclass(frozen=True)
class Field:
    """One value cell of a table: an input, or a computed total."""

    id: str
    table: str
    row: Axis
    column: Axis
    kind: str
    sum_of: tuple[str, ...] = ()
    code: str = ""

    @property
    def is_total(self) -> bool:
        return bool(self.sum_of)

    @property
    def row_label(self) -> str:
        return self.row.label

    @property
    def column_label(self) -> str:
        return self.column.label

    column_name: str = ""  # shortest unique suffix of the column path, e.g. 复议后起诉·总计


@dataclass(frozen=True)
class TextField:
    id: str
    label: str
    hint: str = ""
    height: int = 20


@dataclass(frozen=True)
class Kind:
    id: str
    label: str
    whole: bool
    minimum: float
    validation_title: str
    validation_message: str


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    severity: Severity
    message: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass(frozen=True)
class SummarySpec:
    """What a collecting office's summary shows first: key figures and the two charts."""

    key_fields: tuple[str, ...] = ()
    chart_field: str = ""  # one bar per unit
    chart_title: str = ""
    mix_field: str = ""  # a row total whose parts, grouped by their parent label, make the pie
    mix_title: str = ""
    short_labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, eq=False)
class Form:
    id: str
    version: str
    name: str
    basis: str
    title: str
    front_sheet: str
    meta_sheet: str
    headers: tuple[TextField, ...]
    texts: tuple[TextField, ...]
    tables: tuple[Table, ...]
    kinds: dict[str, Kind]
    rules: tuple[Rule, ...]
    summary: SummarySpec = SummarySpec()

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        return tuple(f for t in self.tables for f in _table_fields(t))

    @cached_property
    def by_id(self) -> dict[str, Field]:
        return {f.id: f for f in self.fields}

    @cached_property
    def inputs(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.is_total)

    @cached_property
    def totals(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_total)

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    @cached_property
    def rule_by_code(self) -> dict[str, Rule]:
        return {r.code: r for r in self.rules}

    def rule(self, code: str) -> Rule:
        return next(r for r in self.rules if r.code == code)

    @cached_property
    def text_fields(self) -> dict[str, TextField]:
        return {t.id: t for t in (*self.headers, *self.texts)}

    def fields_of_row(self, row_ref: str) -> list[Field]:
        """Fields of «table.row», in column order."""
        return [f for f in self.fields if f.id.rsplit(".", 1)[0] == row_ref]

    def row_parts(self, field_id: str) -> tuple[Field, ...]:
        """The fields a row total adds up, in its own column (empty for other fields)."""
        f = self.by_id[field_id]
        return tuple(self.by_id[f"{f.table}.{r}.{f.column.id}"] for r in f.row.sum_of)

    def compute(self, values: dict[str, float]) -> dict[str, float]:
        """Every field: the inputs as given (missing = 0) and the totals recomputed from them."""
        inputs, plan = self._compute_plan
        out = {fid: float(values.get(fid, 0.0)) for fid in inputs}
        for fid, parts in plan:
            out[fid] = sum(parts(out))
        return out

    @cached_property
    def _compute_plan(self) -> tuple[tuple[str, ...], tuple[tuple[str, Callable], ...]]:
        """The input ids, and each total with a getter of its parts, parts before their total.

        The order is the depth-first one the totals were once computed in (recursively), and
        each total adds the same values in the same order: the results are identical.
        """
        order: list[str] = []
        seen = {f.id for f in self.inputs}

        def visit(fid: str) -> None:
            if fid not in seen:
                for part in self.by_id[fid].sum_of:
                    visit(part)
                seen.add(fid)
                order.append(fid)

        for f in self.totals:
            visit(f.id)
        plan = tuple((fid, _getter(self.by_id[fid].sum_of)) for fid in order)
        return tuple(f.id for f in self.inputs), plan

    def title_for(self, unit: str, year: int | str) -> str:
        return self.title.format(unit=unit, year=year)


def _getter(parts: tuple[str, ...]) -> Callable[[dict[str, float]], tuple[float, ...]]:
    """A function giving the values of `parts` as a tuple (itemgetter gives a scalar for one)."""
    if len(parts) == 1:
        (only,) = parts
        return lambda out: (out[only],)
    if not parts:
        return lambda out: ()
    return itemgetter(*parts)


def _table_fields(table: Table) -> list[Field]:
    out = []
    for block in table.blocks:
        for row in block.rows:
            for col in block.columns:
                fid = f"{table.id}.{row.id}.{col.id}"
                if col.sum_of:
                    parts = tuple(f"{table.id}.{row.id}.{c}" for c in col.sum_of)
                    code = col.code
                elif row.sum_of:
                    parts = tuple(f"{table.id}.{r}.{col.id}" for r in row.sum_of)
                    code = row.code
                else:
                    parts, code = (), ""
                name = _unique_suffix(col, block.columns)
                out.append(Field(fid, table.id, row, col, block.kind, parts, code, name))
    return out


def _unique_suffix(axis: Axis, siblings: tuple[Axis, ...]) -> str:
    for n in range(1, len(axis.path) + 1):
        tail = axis.path[-n:]
        if sum(1 for s in siblings if s.path[-n:] == tail) == 1:
            return "·".join(tail)
    return "·".join(axis.path)


def _axis(d: dict[str, Any]) -> Axis:
    return Axis(d["id"], tuple(d["path"]), tuple(d.get("sum_of", ())), d.get("code", ""))


def _block(d: dict[str, Any]) -> Block:
    cols = tuple(_axis(c) for c in d["columns"])
    rows = tuple(_axis(r) for r in d["rows"])
    return Block(d.get("header", ""), d.get("corner", ""), d["kind"], cols, rows)


def _text(d: dict[str, Any]) -> TextField:
    return TextField(d["id"], d["label"], d.get("hint", ""), d.get("height", 20))


_RULE_KEYS = {"code", "kind", "severity", "message"}


def form_from_dict(data: dict[str, Any]) -> Form:
    meta = data["form"]
    tables = tuple(
        Table(
            t["id"],
            t["sheet"],
            t["title"],
            t.get("landscape", False),
            tuple(_block(b) for b in t["blocks"]),
        )
        for t in data["tables"]
    )
    kinds = {k: Kind(k, **v) for k, v in data["kinds"].items()}
    rules = tuple(
        Rule(
            r["code"],
            r["kind"],
            r["severity"],
            r["message"],
            {k: v for k, v in r.items() if k not in _RULE_KEYS},
        )
        for r in data["rules"]
    )
    return Form(
        meta["id"],
        str(meta["version"]),
        meta["name"],
        meta["basis"],
        meta["title"],
        meta["front_sheet"],
        meta["meta_sheet"],
        tuple(_text(h) for h in data["header"]),
        tuple(_text(t) for t in data["texts"]),
        tables,
        kinds,
        rules,
        _summary(data.get("summary", {})),
    )


def _summary(d: dict[str, Any]) -> SummarySpec:
    return SummarySpec(
        tuple(d.get("key_fields", ())),
        d.get("chart_field", ""),
        d.get("chart_title", ""),
        d.get("mix_field", ""),
        d.get("mix_title", ""),
        dict(d.get("short_labels", {})),
    )


@cache
def load_form(name: str = "gb2021") -> Form:
    """Load a packaged form declaration by name."""
    text = resources.files("nianbao.form").joinpath(f"{name}.toml").read_text("utf-8")
    return form_from_dict(tomllib.loads(text))
