"""情况说明 explains 提示 that may stand; "无" explains nothing; 错误 are never explained."""

from __future__ import annotations

import random

from conftest import consistent_figures, sample_texts
from nianbao.check import check_file


def hinted(make_return, note: str, **changes: str):
    values = consistent_figures_for_township()
    texts = {**sample_texts("群科镇", values), "s6": "本年度工作正常。", "filler": "", **changes}
    texts["note"] = note
    return check_file(make_return(values=values, texts=texts))


def consistent_figures_for_township() -> dict[str, float]:
    from nianbao.form import load_form

    values = consistent_figures(load_form(), random.Random(5))
    return {k: (0.0 if k.startswith("t2.regulation.") else v) for k, v in values.items()}


def test_a_real_explanation_marks_the_hint_explained(make_return) -> None:
    result = hinted(make_return, "本单位本年度未收取信息处理费，已在正文中补充。")
    fee = [i for i in result.issues if i.code == "TEXT_FEE"]
    assert fee and fee[0].explained and fee[0].status == "已说明"


def test_a_note_saying_nothing_explains_nothing(make_return) -> None:
    result = hinted(make_return, "无")
    assert {i.code for i in result.open_hints} >= {"TEXT_FEE", "HEADER_EMPTY"}
    assert not any(i.explained for i in result.issues)
    assert result.status == "有提示"


def test_a_missing_filler_is_not_explained_away(make_return) -> None:
    result = hinted(make_return, "数字已核实。")
    header = [i for i in result.issues if i.code == "HEADER_EMPTY"]
    assert header and not header[0].explained
