"""Every declared rule, on real filled templates: its code, its cell and its numbers."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import consistent_figures, fill, sample_texts
from nianbao.check import FileResult, check_file
from nianbao.form import Form, layout_for, load_form
from nianbao.reader import UnitReport, read_unit
from nianbao.template import UnitInfo, template_bytes

FORM = load_form()
LAYOUT = layout_for(FORM)
UNIT, YEAR = "群科镇", 2025
TEMPLATE = template_bytes(YEAR, UnitInfo(UNIT))
STRONG = [r.code for r in FORM.rules if r.severity == "强制"]

Break = tuple[dict[str, object], str, set[str]]  # raw cells typed, rule code, fields reported


def address(fid: str) -> str:
    return LAYOUT.fields[fid].a1


def error_places(result: FileResult) -> set[tuple[str, str]]:
    return {(i.code, i.cell) for i in result.errors}


def _t3_columns() -> list[str]:
    return [c.id for c in FORM.table("t3").blocks[0].columns if not c.sum_of]


def _counts_outside_t3() -> list[str]:
    """Count inputs no sum rule uses as stored figures (t3 inputs also move the balance)."""
    return [f.id for f in FORM.inputs if f.kind == "count" and f.table != "t3"]


def break_balance(values: dict[str, float], rng: random.Random) -> Break:
    col = rng.choice(_t3_columns())
    row = rng.choice(["new", "carried", "public", "refused_repeat", "other_other", "carry_next"])
    fid = f"t3.{row}.{col}"
    return {fid: values[fid] + rng.randint(1, 9)}, "T3_BALANCE", {f"t3.new.{col}", "t3.new.total"}


def _typed_total(code: str) -> Callable[[dict[str, float], random.Random], Break]:
    def make(values: dict[str, float], rng: random.Random) -> Break:
        fid = rng.choice([f.id for f in FORM.totals if f.code == code])
        return {fid: FORM.compute(values)[fid] + rng.randint(1, 9)}, code, {fid}

    return make


def _bad_value(field_ids: Callable[[], list[str]], code: str, bad: list[object]):
    def make(values: dict[str, float], rng: random.Random) -> Break:
        fid = rng.choice(field_ids())
        value = rng.choice(bad)
        return {fid: values[fid] + 0.5 if value == "fraction" else value}, code, {fid}

    return make


def _amounts() -> list[str]:
    return [f.id for f in FORM.inputs if f.kind == "amount"]


BREAKS = {
    "T3_BALANCE": break_balance,
    "T3_TOTAL_COLUMN": _typed_total("T3_TOTAL_COLUMN"),
    "T3_TOTAL_ROW": _typed_total("T3_TOTAL_ROW"),
    "T4_TOTAL": _typed_total("T4_TOTAL"),
    "VALUE_COUNT": _bad_value(_counts_outside_t3, "VALUE_COUNT", [-3, "fraction", "十二", "12a"]),
    "VALUE_AMOUNT": _bad_value(_amounts, "VALUE_AMOUNT", [-0.5, "约3万", "abc"]),
}


def check_filled(values: dict[str, object], texts: dict[str, str] | None = None) -> FileResult:
    with tempfile.TemporaryDirectory() as tmp:
        path = fill(TEMPLATE, Path(tmp) / "return.xlsx", LAYOUT, values, texts)
        return check_file(path, expected_year=YEAR)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_consistent_figures_read_back_unchanged_and_without_errors(seed: int) -> None:
    values = consistent_figures(FORM, random.Random(seed))
    result = check_filled(values, sample_texts(UNIT, values))
    assert result.report is not None and result.report.values == values
    assert result.errors == [] and result.status == "通过", result.issues


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rule=st.sampled_from(sorted(BREAKS)))
def test_breaking_one_rule_gives_exactly_that_rule(seed: int, rule: str) -> None:
    rng = random.Random(seed)
    values = consistent_figures(FORM, rng)
    typed, code, fields = BREAKS[rule](values, rng)
    result = check_filled({**values, **typed}, sample_texts(UNIT, values))
    assert error_places(result) == {(code, address(fid)) for fid in fields}, result.issues
    assert all(i.sheet == LAYOUT.fields[next(iter(fields))].sheet for i in result.errors)


def test_every_strong_rule_is_broken_somewhere() -> None:
    covered = {*BREAKS, "YEAR_MISMATCH", "PREV_CARRY"}
    assert set(STRONG) <= covered


def test_a_typed_over_total_reports_both_numbers_and_the_words_of_its_cell() -> None:
    values = consistent_figures(FORM, random.Random(3))
    fid = "t3.new.total"
    right = FORM.compute(values)[fid]
    result = check_filled({**values, fid: right + 4})
    [issue] = result.errors
    assert (issue.code, issue.sheet, issue.cell) == ("T3_TOTAL_COLUMN", "表三", address(fid))
    assert issue.message.startswith(LAYOUT.describe(fid))
    assert f"{right + 4:g}" in issue.message and f"{right:g}" in issue.message


def test_the_balance_message_names_table_row_column_and_both_sums() -> None:
    values = consistent_figures(FORM, random.Random(4))
    values["t3.new.natural"] += 1
    result = check_filled(values)
    issue = next(i for i in result.errors if i.cell == address("t3.new.natural"))
    row = FORM.by_id["t3.new.natural"].row_label
    assert f"表三「{row}」行「自然人」列（{address('t3.new.natural')}）" in issue.message
    totals = FORM.compute(values)
    lhs = totals["t3.new.natural"] + totals["t3.carried.natural"]
    rhs = totals["t3.results_total.natural"] + totals["t3.carry_next.natural"]
    assert f"={lhs:g}" in issue.message and f"={rhs:g}" in issue.message


# ------------------------------------------------------------------ hints and previous year
def base_values() -> dict[str, float]:
    values = consistent_figures(FORM, random.Random(11))
    values.update(
        {
            "t2.regulation.issued": 2.0, "t2.regulation.abolished": 1.0,
            "t2.regulation.valid": 10.0, "t2.normative.issued": 5.0,
            "t2.normative.abolished": 2.0, "t2.normative.valid": 30.0,
            "t2.license.decisions": 5.0, "t2.penalty.decisions": 8.0,
        }
    )  # fmt: skip
    return values


def previous_values(values: dict[str, float]) -> dict[str, float]:
    """Last year's figures that agree with `values` under every cross-year rule."""
    prev = dict(values)
    for col in _t3_columns():
        prev[f"t3.carry_next.{col}"] = values[f"t3.carried.{col}"]
    for row in ("regulation", "normative"):
        v = values
        prev[f"t2.{row}.valid"] = (
            v[f"t2.{row}.valid"] - v[f"t2.{row}.issued"] + v[f"t2.{row}.abolished"]
        )
    return prev


@pytest.fixture
def check_with(make_return, tmp_path: Path):
    """check_with(values, texts=…, previous=…, prev_texts=…, category=…) → FileResult."""

    def run(
        values: dict[str, float],
        texts: dict[str, str] | None = None,
        previous: dict[str, float] | None = None,
        prev_texts: dict[str, str] | None = None,
        category: str = "",
    ) -> FileResult:
        prev_report: UnitReport | None = None
        if previous is not None:
            last = {
                **sample_texts(UNIT, previous),
                "s5": "上年问题：解读不够。",
                **(prev_texts or {}),
            }
            prev_path = make_return(UNIT, previous, last, 2024, "prev.xlsx", category="")
            prev_report = read_unit(prev_path)
        texts = {**sample_texts(UNIT, values), **(texts or {})}
        path = make_return(UNIT, values, texts, YEAR, "now.xlsx", category=category)
        return check_file(path, expected_year=YEAR, previous=prev_report)

    return run


def hint_places(result: FileResult) -> set[tuple[str, str]]:
    return {(i.code, i.cell) for i in result.issues if not i.is_error}


def test_base_figures_with_a_matching_previous_year_pass(check_with) -> None:
    values = base_values()
    result = check_with(values, previous=previous_values(values))
    assert result.issues == [] and result.status == "通过"


def text_cell(tid: str) -> str:
    return LAYOUT.texts[tid].cell.a1


@pytest.mark.parametrize(
    ("texts", "code", "tid"),
    [
        ({"s5": ""}, "TEXT_EMPTY", "s5"),
        ({"s1": "无"}, "TEXT_EMPTY", "s1"),
        ({"filler": ""}, "HEADER_EMPTY", "filler"),
        ({"phone": "  "}, "HEADER_EMPTY", "phone"),
        ({"s6": "本年度无其他需要报告的事项。"}, "TEXT_FEE", "s6"),
        ({"s1": "全年工作扎实推进。" * 120}, "TEXT_LONG", "s1"),
        ({"s1": "本机关全年共收到政府信息公开申请16件，均已按时答复。"}, "TEXT_NUMBER", "s1"),
    ],
)
def test_text_hints(check_with, texts: dict[str, str], code: str, tid: str) -> None:
    values = base_values()
    result = check_with(values, texts)
    assert hint_places(result) == {(code, text_cell(tid))}
    assert result.errors == [] and result.status == "有提示"
    if code == "TEXT_NUMBER":
        total = FORM.compute(values)["t3.new.total"]
        assert "16" in result.issues[0].message and f"{total:g}" in result.issues[0].message


def test_a_matching_stated_number_gives_no_hint(check_with) -> None:
    values = base_values()
    stated = int(FORM.compute(values)["t3.new.total"])
    result = check_with(values, {"s1": f"全年共收到政府信息公开申请{stated}件。"})
    assert result.issues == []


def test_regulation_figures_of_a_township_get_a_hint(check_with) -> None:
    result = check_with(base_values(), category="乡镇")
    assert hint_places(result) == {("REGULATION_BY_UNIT", address("t2.regulation.issued"))}
    assert "乡镇" in result.issues[0].message


def test_carried_over_must_equal_last_years_carry_next(check_with) -> None:
    values = base_values()
    prev = previous_values(values)
    prev["t3.carry_next.research"] += 2
    result = check_with(values, previous=prev)
    assert error_places(result) == {
        ("PREV_CARRY", address("t3.carried.research")),
        ("PREV_CARRY", address("t3.carried.total")),
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"t2.regulation.valid": 14.0}, {("PREV_VALID", "t2.regulation.valid")}),
        (
            {"t2.normative.abolished": 40.0, "t2.normative.valid": 0.0},
            {("PREV_ABOLISHED", "t2.normative.abolished"), ("PREV_VALID", "t2.normative.valid")},
        ),
        ({"t2.license.decisions": 16.0}, {("PREV_JUMP", "t2.license.decisions")}),
        ({"t2.penalty.decisions": 2.0}, {("PREV_JUMP", "t2.penalty.decisions")}),
    ],
)
def test_previous_year_hints(check_with, change: dict[str, float], expected: set) -> None:
    values = base_values()
    prev = previous_values(values)
    result = check_with({**values, **change}, previous=prev)
    assert hint_places(result) == {(code, address(fid)) for code, fid in expected}
    assert result.errors == []


def test_the_same_problems_text_as_last_year_gets_a_hint(check_with) -> None:
    values = base_values()
    same = {"s5": sample_texts(UNIT, values)["s5"]}
    result = check_with(values, previous=previous_values(values), prev_texts=same)
    assert hint_places(result) == {("TEXT_SAME_AS_PREV", text_cell("s5"))}


def test_without_previous_year_no_cross_year_rule_runs(check_with) -> None:
    values = {**base_values(), "t2.regulation.valid": 99.0}
    assert check_with(values).issues == []


def test_a_note_explains_hints_but_never_an_error(check_with) -> None:
    values = base_values()
    values["t3.new.natural"] += 1
    note = "本年规章清理，数量变化较大。"
    result = check_with(values, {"s6": "无其他事项。", "note": note})
    hint = next(i for i in result.issues if i.code == "TEXT_FEE")
    assert hint.explained and hint.status == "已说明" and hint.explanation == note
    assert result.errors and all(not i.explained and i.status == "错误" for i in result.errors)
    assert result.open_hints == []
    unexplained = check_with(values, {"s6": "无其他事项。"})
    assert [i.status for i in unexplained.issues if i.code == "TEXT_FEE"] == ["提示"]


def test_rules_read_only_declared_kinds(form: Form) -> None:
    from nianbao.rules import CHECKS

    assert {r.kind for r in form.rules} <= set(CHECKS)
