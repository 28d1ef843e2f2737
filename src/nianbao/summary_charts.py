"""Native Excel charts of a summary: applications per unit, and the mix of outcomes."""

from __future__ import annotations

from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from nianbao.collect import Collection
from nianbao.form.layout import quote_sheet

MAX_BARS = 40


def add_charts(
    wb: Workbook,
    ws: Worksheet,
    coll: Collection,
    head: Format,
    new_totals: list[tuple[str, float]],
) -> None:
    """The charts sheet; `new_totals` is (unit, chart field) of every summed file, in order."""
    spec, name = coll.form.summary, quote_sheet(ws.name)
    label = coll.form.by_id[spec.chart_field].row_label
    per_unit = sorted(new_totals, key=lambda x: -x[1])[:MAX_BARS]
    ws.write_row(0, 0, ["单位", label], head)
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
                "name": label,
                "categories": f"={name}!$A$2:$A${len(per_unit) + 1}",
                "values": f"={name}!$B$2:$B${len(per_unit) + 1}",
            }
        )
        bar.set_title({"name": spec.chart_title})
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
    pie.set_title({"name": spec.mix_title})
    ws.insert_chart("G24" if per_unit else "G2", pie)


def _outcome_mix(coll: Collection) -> list[tuple[str, float]]:
    """The parts of the declared mix total, summed per parent label (（一）…（六） of table 三)."""
    form = coll.form
    short = form.summary.short_labels
    level = len(form.by_id[form.summary.mix_field].row.path) - 1  # the total's own level
    groups: dict[str, float] = {}
    for part in form.row_parts(form.summary.mix_field):
        path = part.row.path
        label = path[level] if len(path) > level else part.row_label
        label = short.get(label, label)
        groups[label] = groups.get(label, 0.0) + coll.totals[part.id]
    return list(groups.items())
