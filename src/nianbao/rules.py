"""Figures → issues. Every rule is declared in the form; this module evaluates each kind."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache

from nianbao.form import Form, Layout, Rule, Table, layout_for
from nianbao.form.layout import Check
from nianbao.issues import Issue, severity_of, sort_issues
from nianbao.numbers import is_whole, show
from nianbao.reader import UnitReport

EPSILON = 1e-9
EMPTY_TEXTS = frozenset({"", "无", "无。", "暂无", "/", "—"})


# What each rule looks at, worked out once per form rather than for every file checked.
@cache
def _inputs_of_kind(form: Form, kind: str) -> tuple[str, ...]:
    return tuple(f.id for f in form.inputs if f.kind == kind)


@cache
def _checks_of(form: Form, code: str) -> tuple[Check, ...]:
    return tuple(c for c in layout_for(form).checks if c.rule.code == code)


@cache
def _totals_of(form: Form, code: str) -> tuple[str, ...]:
    return tuple(f.id for f in form.totals if f.code == code)


@cache
def _row_fields(form: Form, row: str) -> tuple[str, ...]:
    return tuple(f.id for f in form.fields_of_row(row))


@cache
def _table_inputs(form: Form) -> tuple[tuple[Table, frozenset[str]], ...]:
    return tuple((t, frozenset(f.id for f in form.inputs if f.table == t.id)) for t in form.tables)


@dataclass
class Context:
    form: Form
    lay: Layout
    report: UnitReport
    values: dict[str, float]
    previous: UnitReport | None
    previous_values: dict[str, float] | None
    expected_year: int | None

    def issue(self, rule: Rule, fid: str | None = None, **numbers: object) -> Issue:
        """An issue at a field: its description (at the address read) before the message."""
        if not fid:
            return self.at(rule, _message(rule, numbers))
        place = self.report.cells.get(fid) or self.lay.fields[fid].ref
        sheet, cell = place.split("!")
        text = f"{self.lay.describe(fid, cell)}：{_message(rule, numbers)}"
        return self.at(rule, text, sheet, cell)

    def text_issue(self, rule: Rule, tid: str, **numbers: object) -> Issue:
        """An issue at a header or text section, its label in the message."""
        cell = self.lay.texts[tid].cell
        label = self.form.text_fields[tid].label
        return self.at(rule, _message(rule, numbers, label=label), cell.sheet, cell.a1)

    def at(self, rule: Rule, message: str, sheet: str = "", cell: str = "") -> Issue:
        """The one place an Issue of a rule is made."""
        severity = severity_of(rule.severity)
        return Issue(rule.code, severity, message, self.report.unit, self.report.file, sheet, cell)


def _message(rule: Rule, numbers: dict[str, object], **texts: str) -> str:
    return rule.message.format(**texts, **{k: _fmt(v) for k, v in numbers.items()})


def _fmt(value: object) -> str:
    return show(value) if isinstance(value, float) else str(value)


def evaluate(
    report: UnitReport,
    form: Form,
    *,
    expected_year: int | None = None,
    previous: UnitReport | None = None,
) -> list[Issue]:
    """All issues of one report: those found while reading, then every declared rule."""
    ctx = Context(
        form,
        layout_for(form),
        report,
        report.computed(form),  # shared with the reader's gate and the summary: read only
        previous,
        previous.computed(form) if previous and previous.readable else None,
        expected_year,
    )
    issues = [i.for_unit(report.unit, report.file) for i in report.issues]
    for rule in form.rules:
        checker = CHECKS.get(rule.kind)
        if checker is None:
            raise ValueError(f"unknown rule kind {rule.kind!r} in {rule.code}")
        if report.readable or rule.kind in TEXT_KINDS:
            issues.extend(checker(ctx, rule))
    return sort_issues(_explain(issues, report.texts.get("note", ""), form))


def _explain(issues: list[Issue], note: str, form: Form) -> list[Issue]:
    """A 情况说明 explains the 提示 of rules that may stand; "无" explains nothing."""
    if note.strip() in EMPTY_TEXTS:
        return issues
    return [replace(i, explanation=note.strip()) if _explainable(i, form) else i for i in issues]


def _explainable(issue: Issue, form: Form) -> bool:
    rule = form.rule_by_code.get(issue.code)
    return not issue.is_error and rule is not None and rule.get("explainable", True)


Checker = Callable[[Context, Rule], Iterator[Issue]]


def value_kind(ctx: Context, rule: Rule) -> Iterator[Issue]:
    kind = ctx.form.kinds[rule.get("applies_to")]
    minimum, whole, parsed_of = kind.minimum, kind.whole, ctx.report.parsed
    for fid in _inputs_of_kind(ctx.form, kind.id):
        parsed = parsed_of.get(fid)
        if parsed is None:
            continue
        bad = parsed.status == "invalid" or parsed.value < minimum
        if bad or (whole and not is_whole(parsed.value)):
            yield ctx.issue(rule, fid, value=parsed.raw)


def value_placeholder(ctx: Context, rule: Rule) -> Iterator[Issue]:
    for fid, parsed in ctx.report.parsed.items():
        if parsed.status == "placeholder":
            yield ctx.issue(rule, fid, value=parsed.raw)


def rows_balance(ctx: Context, rule: Rule) -> Iterator[Issue]:
    for check in _checks_of(ctx.form, rule.code):
        lhs = sum(ctx.values[f] for f in check.lhs)
        rhs = sum(ctx.values[f] for f in check.rhs)
        if abs(lhs - rhs) > EPSILON:
            yield ctx.issue(rule, check.lhs[0], lhs=lhs, rhs=rhs)


def stored_total(ctx: Context, rule: Rule) -> Iterator[Issue]:
    for fid in _totals_of(ctx.form, rule.code):
        stored = ctx.report.stored.get(fid)
        if stored is not None and abs(stored - ctx.values[fid]) > 1e-6:
            yield ctx.issue(rule, fid, stored=stored, computed=ctx.values[fid])


def previous_equals(ctx: Context, rule: Rule) -> Iterator[Issue]:
    if ctx.previous_values is None:
        return
    for f in ctx.form.fields_of_row(rule.get("field")):
        prev_id = f"{rule.get('previous')}.{f.column.id}"
        value, prev = ctx.values[f.id], ctx.previous_values[prev_id]
        if abs(value - prev) > EPSILON:
            yield ctx.issue(rule, f.id, value=value, previous=prev)


def _continuity_rows(ctx: Context, rule: Rule) -> Iterator[tuple[dict[str, str], dict[str, float]]]:
    """Per declared row: the ids of its valid/issued/abolished cells, and their figures."""
    if ctx.previous_values is None:
        return
    v, p = ctx.values, ctx.previous_values
    for row in rule.get("rows"):
        ids = {key: f"{row}.{rule.get(key)}" for key in ("valid", "issued", "abolished")}
        yield (
            ids,
            {
                "value": v[ids["valid"]],
                "previous": p[ids["valid"]],
                "issued": v[ids["issued"]],
                "abolished": v[ids["abolished"]],
            },
        )


def previous_continuity(ctx: Context, rule: Rule) -> Iterator[Issue]:
    for ids, n in _continuity_rows(ctx, rule):
        expected = n["previous"] + n["issued"] - n["abolished"]
        if abs(n["value"] - expected) > EPSILON:
            yield ctx.issue(rule, ids["valid"], expected=expected, **n)


def previous_abolished(ctx: Context, rule: Rule) -> Iterator[Issue]:
    for ids, n in _continuity_rows(ctx, rule):
        if n["abolished"] > n["previous"] + n["issued"] + EPSILON:
            yield ctx.issue(rule, ids["abolished"], **n)


def previous_ratio(ctx: Context, rule: Rule) -> Iterator[Issue]:
    if ctx.previous_values is None:
        return
    factor = float(rule.get("factor"))
    for fid in rule.get("fields"):
        value, prev = ctx.values[fid], ctx.previous_values[fid]
        if prev > 0 and (value > prev * factor or value * factor < prev):
            yield ctx.issue(rule, fid, value=value, previous=prev, factor=show(factor))


def category_forbids(ctx: Context, rule: Rule) -> Iterator[Issue]:
    category = ctx.report.identity.category
    if category not in rule.get("categories"):
        return
    for fid in _row_fields(ctx.form, rule.get("row")):
        if ctx.values[fid] > 0:
            yield ctx.issue(rule, fid, category=category)
            return


def table_blank(ctx: Context, rule: Rule) -> Iterator[Issue]:
    for table, ids in _table_inputs(ctx.form):
        parsed = [p for fid, p in ctx.report.parsed.items() if fid in ids]
        if parsed and all(p.status == "blank" for p in parsed):
            yield ctx.at(rule, f"{table.short}：{rule.message}", table.sheet)


def text_required(ctx: Context, rule: Rule) -> Iterator[Issue]:
    # a published report has no 填报人/联系电话 block: only its text sections can be missing
    published = ctx.report.identity.source == "published"
    for tid in (*rule.get("texts", ()), *(() if published else rule.get("headers", ()))):
        if ctx.report.texts.get(tid, "").strip() in EMPTY_TEXTS:
            yield ctx.text_issue(rule, tid)


def text_mentions(ctx: Context, rule: Rule) -> Iterator[Issue]:
    text = ctx.report.texts.get(rule.get("text"), "").strip()
    if text not in EMPTY_TEXTS and not any(w in text for w in rule.get("words")):
        yield ctx.text_issue(rule, rule.get("text"))


def text_max_length(ctx: Context, rule: Rule) -> Iterator[Issue]:
    text = re.sub(r"\s", "", ctx.report.texts.get(rule.get("text"), ""))
    if len(text) > rule.get("limit"):
        yield ctx.text_issue(rule, rule.get("text"), length=len(text), limit=rule.get("limit"))


def text_same_as_previous(ctx: Context, rule: Rule) -> Iterator[Issue]:
    tid = rule.get("text")
    now = re.sub(r"\s", "", ctx.report.texts.get(tid, ""))
    before = re.sub(r"\s", "", ctx.previous.texts.get(tid, "")) if ctx.previous else ""
    if now and now not in EMPTY_TEXTS and now == before:
        yield ctx.text_issue(rule, tid)


def text_number(ctx: Context, rule: Rule) -> Iterator[Issue]:
    text = ctx.report.texts.get(rule.get("text"), "")
    match = re.search(rule.get("pattern"), text)
    value = ctx.values[rule.get("field")]
    if match and ctx.report.readable and abs(float(match.group(1)) - value) > EPSILON:
        yield ctx.text_issue(rule, rule.get("text"), stated=match.group(1), value=value)


def year_matches(ctx: Context, rule: Rule) -> Iterator[Issue]:
    found = ctx.report.identity.year
    if ctx.expected_year is not None and found is not None and found != ctx.expected_year:
        title = ctx.lay.title  # the year a person sees is in the title
        message = _message(rule, {"found": found, "expected": ctx.expected_year})
        yield ctx.at(rule, message, title.sheet if title else "", title.a1 if title else "")


CHECKS: dict[str, Checker] = {
    "value_kind": value_kind,
    "value_placeholder": value_placeholder,
    "rows_balance": rows_balance,
    "stored_total": stored_total,
    "previous_equals": previous_equals,
    "previous_continuity": previous_continuity,
    "previous_abolished": previous_abolished,
    "previous_ratio": previous_ratio,
    "category_forbids": category_forbids,
    "table_blank": table_blank,
    "text_required": text_required,
    "text_mentions": text_mentions,
    "text_max_length": text_max_length,
    "text_same_as_previous": text_same_as_previous,
    "text_number": text_number,
    "year_matches": year_matches,
}
TEXT_KINDS = frozenset(
    {"text_required", "text_mentions", "text_max_length", "text_same_as_previous", "year_matches"}
)
