"""What a collected summary carries up besides its sums: its members' issues and explanations."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import python_calamine as calamine

from nianbao.files import FileProblem, open_returned
from nianbao.form import Form
from nianbao.issues import ERROR, HINT, Issue
from nianbao.summary_format import PROBLEMS, problem_headers

SEPARATOR = " → "  # a file inside a summary: "群科镇汇总.xlsx → 回传(1).xlsx"
# A summary's own evaluation keeps what the sum cannot inherit from its members: totals typed
# over, the year, and last year's figures. Balance, value and text rules were run on every
# member where its figures came from; on the sum they only repeat (or, for the generated texts,
# invent) findings.
OWN_KINDS = frozenset(
    {"stored_total", "year_matches", "previous_equals", "previous_continuity",
     "previous_abolished", "previous_ratio"}
)  # fmt: skip


def carried_issues(path: Path, name: str, form: Form) -> list[Issue] | None:
    """The 问题 rows of a summary file as issues, or None when it has no such sheet."""
    try:
        data = open_returned(Path(path)).data
        sheet = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(
            PROBLEMS
        )
        rows = sheet.to_python(skip_empty_area=False)
    except (FileProblem, Exception):  # calamine raises several types for a missing sheet
        return None
    headers = problem_headers(form)
    if not rows or tuple(_text(x) for x in rows[0][: len(headers)]) != headers:
        return None
    return [issue for row in rows[1:] if (issue := _issue(row, name, len(headers))) is not None]


def _issue(row: Sequence[object], name: str, width: int) -> Issue | None:
    """One 问题 row → Issue; rows without a unit (unreadable files below) stay below."""
    unit, file, place, code, level, message, explanation = (
        _text(row[i]) if i < len(row) else "" for i in range(width)
    )
    if not unit or not code:
        return None
    sheet, _, cell = place.partition("!")
    return Issue(
        code,
        ERROR if level == ERROR else HINT,
        message,
        unit,
        f"{name}{SEPARATOR}{file}" if file else name,
        sheet,
        cell,
        explanation,
    )


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def summary_issues(own: list[Issue], carried: list[Issue], form: Form) -> list[Issue]:
    """A summary's issues: its members' (as carried up) and its own that the sum adds."""
    derived = {r.code for r in form.rules if r.kind not in OWN_KINDS}
    return carried + [i for i in own if i.code not in derived]
