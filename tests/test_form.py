"""The form declaration: complete, consistent, and every label copied from the official format."""

from __future__ import annotations

import pytest

from conftest import SHARED
from nianbao.form import Form, Layout
from nianbao.rules import CHECKS


def official_labels(form: Form) -> set[str]:
    labels = {t.title for t in form.tables}
    for table in form.tables:
        for block in table.blocks:
            labels |= {block.header, block.corner} - {""}
            for axis in (*block.rows, *block.columns):
                labels |= set(axis.path)
    return labels | {t.label for t in form.texts if t.id.startswith("s")}


def test_the_form_has_the_official_number_of_inputs(form: Form) -> None:
    by_table = {t.id: sum(1 for f in form.inputs if f.table == t.id) for t in form.tables}
    assert by_table == {"t2": 10, "t3": 144, "t4": 12}
    assert sum(1 for f in form.totals if f.table == "t4") == 3
    assert [f.id for f in form.inputs if f.kind == "amount"] == ["t2.fee.amount"]


def test_field_ids_are_unique_and_totals_refer_to_existing_fields(form: Form) -> None:
    ids = [f.id for f in form.fields]
    assert len(ids) == len(set(ids))
    for total in form.totals:
        assert total.code, total.id
        assert all(part in form.by_id for part in total.sum_of)


def test_rule_codes_are_unique_and_every_kind_is_evaluated(form: Form) -> None:
    codes = [r.code for r in form.rules]
    assert len(codes) == len(set(codes))
    assert {r.kind for r in form.rules} <= set(CHECKS)
    assert {r.severity for r in form.rules} <= {"强制", "提示"}
    assert {t.code for t in form.totals} <= set(codes)


def test_computed_totals_add_up(form: Form) -> None:
    values = {f.id: 1.0 for f in form.inputs}
    computed = form.compute(values)
    assert computed["t3.new.total"] == 6
    assert computed["t3.results_total.natural"] == 21
    assert computed["t3.results_total.total"] == 126
    assert computed["t4.cases.after_total"] == 4


@pytest.mark.skipif(not (SHARED / "format.md").exists(), reason="../shared/format.md 不存在")
def test_every_label_is_copied_from_the_official_format(form: Form) -> None:
    text = (SHARED / "format.md").read_text("utf-8")
    missing = sorted(label for label in official_labels(form) if label not in text)
    assert missing == []


def test_every_field_has_a_cell_and_a_description_in_words(form: Form, layout: Layout) -> None:
    cells = {(c.sheet, c.row, c.col) for c in layout.fields.values()}
    assert len(cells) == len(form.fields)
    for f in form.fields:
        words = layout.describe(f.id)
        assert words.startswith(form.table(f.table).short)
        assert f"（{layout.fields[f.id].a1}）" in words
        assert f.column.label in words


def test_describe_keeps_every_label_whole_and_shows_the_address_asked_for(
    form: Form, layout: Layout
) -> None:
    for f in form.fields:
        plain = layout.describe(f.id, address=False)
        assert f.row.label in plain and f.column_name in plain, f.id
        assert layout.describe(f.id) == f"{plain}（{layout.fields[f.id].a1}）"
        assert layout.describe(f.id, "ZZ99") == f"{plain}（ZZ99）"
    partial = next(f for f in form.fields if "（" in f.row.label)
    assert f"「{partial.row.label}」行" in layout.describe(partial.id, address=False)


def test_the_layout_is_read_only(layout: Layout) -> None:
    """layout_for is cached: every caller shares one layout, so none may change it."""
    with pytest.raises(AttributeError):
        layout.title = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        layout.fields["t3.new.natural"] = layout.fields["t3.new.total"]  # type: ignore[index]
    with pytest.raises(TypeError):
        layout.sheets[0].heights[0] = 1.0  # type: ignore[index]
    assert hash(layout) == hash(layout)  # usable as a cache key


def test_the_summary_declaration_names_existing_fields(form: Form) -> None:
    spec = form.summary
    assert spec.key_fields and set(spec.key_fields) <= set(form.by_id)
    assert spec.chart_field in form.by_id and spec.chart_title and spec.mix_title
    parts = form.row_parts(spec.mix_field)
    assert parts and all(p.column == form.by_id[spec.mix_field].column for p in parts)
    assert set(spec.short_labels) <= {label for p in parts for label in p.row.path}
    assert all(long.startswith(short) for long, short in spec.short_labels.items())


def test_continuity_rules_name_their_columns(form: Form) -> None:
    for rule in form.rules:
        if rule.kind in ("previous_continuity", "previous_abolished"):
            for row in rule.get("rows"):
                for key in ("valid", "issued", "abolished"):
                    assert f"{row}.{rule.get(key)}" in form.by_id, (rule.code, key)


def test_reading_and_checking_do_not_load_the_workbook_writer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nianbao.check, nianbao.reader, nianbao.integrity, nianbao.formula_check;"
        "print(sorted(m for m in sys.modules if m.startswith(('xlsxwriter', 'nianbao.template'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
