"""--previous compares a unit only with its report of the year before."""

from __future__ import annotations

import random
import shutil

from conftest import consistent_figures
from nianbao.collect import collect
from nianbao.previous import load_previous


def test_a_report_of_another_year_is_not_taken_as_last_years(make_return, form, tmp_path) -> None:
    this_year = consistent_figures(form, random.Random(1))
    wrong = dict(consistent_figures(form, random.Random(2)))
    wrong["t3.carry_next.natural"] = this_year["t3.carried.natural"] + 7  # would break PREV_CARRY
    now, before = tmp_path / "2025", tmp_path / "older"
    now.mkdir()
    before.mkdir()
    shutil.copy(make_return("群科镇", values=this_year, name="a.xlsx"), now / "a.xlsx")
    same_year = make_return("群科镇", values=wrong, year=2025, name="b.xlsx")
    shutil.copy(same_year, before / "b.xlsx")

    previous = load_previous(before, form)
    coll = collect(now, previous=previous, year=2025)
    assert not [i for o in coll.outcomes for i in o.result.issues if i.code == "PREV_CARRY"]

    last_year = make_return("群科镇", values=wrong, year=2024, name="c.xlsx")
    shutil.copy(last_year, before / "b.xlsx")
    coll = collect(now, previous=load_previous(before, form), year=2025)
    assert [i.code for o in coll.outcomes for i in o.result.issues if i.code == "PREV_CARRY"]
