"""Last year's figures per unit: from last year's summary (its 明细 sheet) or a folder."""

from __future__ import annotations

import io
from pathlib import Path

import python_calamine as calamine

from nianbao.collect import COUNTED, collect
from nianbao.files import FileProblem, open_returned
from nianbao.form import Form, load_form
from nianbao.locate import norm
from nianbao.numbers import parse_number
from nianbao.reader import Identity, UnitReport
from nianbao.summary_format import DETAIL, DETAIL_FIRST_ROW, DETAIL_ID_ROW, DETAIL_UNIT_COL


class PreviousError(Exception):
    """Last year's data cannot be used; Chinese message."""


def load_previous(path: Path, form: Form | None = None) -> dict[str, UnitReport]:
    """normalised unit name → last year's report of that unit."""
    form = form or load_form()
    path = Path(path)
    if path.is_dir():
        coll = collect(path, form=form)
        return {
            norm(o.unit): o.result.report
            for o in coll.outcomes
            if o.fate == COUNTED and o.result.report
        }
    return _from_summary(path, form)


def _from_summary(path: Path, form: Form) -> dict[str, UnitReport]:
    try:
        opened = open_returned(path)
        wb = calamine.CalamineWorkbook.from_filelike(io.BytesIO(opened.data))
        rows = wb.get_sheet_by_name(DETAIL).to_python(skip_empty_area=False)
        year = _summary_year(wb, form)
    except FileProblem as exc:
        raise PreviousError(f"上年数据 {path.name}：{exc.message}") from exc
    except Exception as exc:
        raise PreviousError(
            f"上年数据 {path.name} 不是 nianbao 生成的汇总文件（找不到「{DETAIL}」工作表）。"
            "请提供上年汇总文件或上年回传文件所在文件夹。"
        ) from exc
    if len(rows) < DETAIL_FIRST_ROW:
        return {}
    ids = [str(x) for x in rows[DETAIL_ID_ROW]]
    out: dict[str, UnitReport] = {}
    for row in rows[DETAIL_FIRST_ROW:]:
        unit = str(row[DETAIL_UNIT_COL]).strip()
        if not unit:
            continue
        report = UnitReport(path.name, Identity(year=year, unit=unit, source="summary"))
        for col, fid in enumerate(ids):
            if fid in form.by_id and not form.by_id[fid].is_total:
                report.parsed[fid] = parse_number(row[col] if col < len(row) else None)
        out[norm(unit)] = report
    return out


def _summary_year(wb: calamine.CalamineWorkbook, form: Form) -> int | None:
    """The year in the summary's hidden identity sheet, if it has one."""
    if form.meta_sheet not in wb.sheet_names:
        return None
    rows = wb.get_sheet_by_name(form.meta_sheet).to_python(skip_empty_area=False)
    meta = {str(r[0]): str(r[1]) for r in rows if len(r) > 1}
    year = meta.get("year", "").split(".")[0]
    return int(year) if year.isdigit() else None
