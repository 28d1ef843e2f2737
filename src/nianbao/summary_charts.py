"""Native Excel charts of a summary: applications per unit, and the mix of outcomes."""

from __future__ import annotations

import re

from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from nianbao.collect import Collection
from nianbao.form.layout import quote_sheet

NEW_TOTAL = "t3.new.total"
MAX_BARS = 40
SHORT = re.compile(r"（[一二三四五六七八九十]+）[^（]+")


def add_charts(
    wb: Workbook,
    ws: Worksheet,
    coll: Collection,
    head: Format,
    new_totals: list[tuple[str, float]],
) -> None:
    """The charts sheet; `new_totals` is (unit, 本年新收) of every summed file, in order."""
    name = quote_sheet(ws.name)
    per_unit = sorted(new_totals, key=lambda x: -x[1])[:MAX_BARS]
    ws.write_row(0, 0, ["单位", "本年新收申请（件）"], head)
    for row, (unit, value) in enumerate(per_unit, start=1):
        ws.write_string(row, 0, unit)
        ws.write_number(row, 1, value)
    mix = _outcome_mix(coll)
    ws.write_row(0, 3, ["办理结果", "件数"], head)
    for row, (label, value) in enumerate(mix, start=1):
        ws.write_string(row, 3, label)
        ws.write_number(row, 4, value)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 12)
    ws.set_column(3, 3, 16)
    ws.set_row(0, 30)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 1)  # the two charts and their figures on one page
    if per_unit:
        bar = wb.add_chart({"type": "bar"})
        bar.add_series(
            {
                "name": "本年新收政府信息公开申请数量",
                "categories": f"={name}!$A$2:$A${len(per_unit) + 1}",
                "values": f"={name}!$B$2:$B${len(per_unit) + 1}",
            }
        )
        bar.set_title({"name": "各单位本年新收申请（件）"})
        bar.set_legend({"none": True})
        bar.set_y_axis(
            {"reverse": True, "crossing": "max", "interval_unit": 1, "num_font": {"size": 8}}
        )
        bar.set_size({"width": 620, "height": max(320, 30 * len(per_unit))})
        ws.insert_chart("G2", bar)
    pie = wb.add_chart({"type": "pie"})
    pie.add_series(
        {
            "name": "办理结果",
            "categories": f"={name}!$D$2:$D${len(mix) + 1}",
            "values": f"={name}!$E$2:$E${len(mix) + 1}",
            "data_labels": {"percentage": True},
        }
    )
    pie.set_title({"name": "本年度办理结果构成"})
    ws.insert_chart("G24" if per_unit else "G2", pie)


def _outcome_mix(coll: Collection) -> list[tuple[str, float]]:
    """（一）…（六） of table 三, each group summed over its items, 总计 column."""
    form = coll.form
    groups: dict[str, float] = {}
    for part in form.by_id["t3.results_total.natural"].sum_of:
        row = form.by_id[part].row
        label = row.path[1] if len(row.path) > 1 else row.label
        label = SHORT.match(label).group() if SHORT.match(label) else label  # （二）部分公开
        groups[label] = groups.get(label, 0.0) + coll.totals[part.rsplit(".", 1)[0] + ".total"]
    return list(groups.items())
