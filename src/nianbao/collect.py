"""A folder of returns → one counted file per unit, statuses, and the aggregate."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nianbao.check import HAS_ERRORS, HAS_HINTS, PASSED, FileResult
from nianbao.form import Form, load_form
from nianbao.issues import HINT, Issue
from nianbao.locate import norm
from nianbao.mail_returns import check_mail, is_mail
from nianbao.parallel import check_many
from nianbao.reader import UnitReport
from nianbao.roster import Roster
from nianbao.template import UnitInfo

REPORTED_OK, REPORTED_ERRORS, REPORTED_HINTS, NOT_REPORTED = (
    "已报且通过",
    "已报有错误",
    "已报有提示",
    "未报",
)
STATUS_OF = {PASSED: REPORTED_OK, HAS_ERRORS: REPORTED_ERRORS, HAS_HINTS: REPORTED_HINTS}
COUNTED, SUPERSEDED, UNREADABLE, OUTSIDE = "计入汇总", "重复/已被替代", "无法读取", "名单外单位"
SKIP_NAMES = re.compile(r"^(~\$|\.~|\.)")  # Office lock files, our temp files, hidden files

Progress = Callable[[int, int, str], None]


@dataclass
class Outcome:
    """What became of one file of the folder."""

    result: FileResult
    fate: str = COUNTED
    unit: str = ""  # roster name it counts for
    note: str = ""  # e.g. which file replaced it
    mtime: float = 0.0


@dataclass
class UnitStatus:
    unit: UnitInfo
    status: str
    outcome: Outcome | None = None
    in_roster: bool = True

    @property
    def explained(self) -> int:
        """提示 the unit answered with a 情况说明 (shown as 已说明, not as open)."""
        return sum(1 for i in self.outcome.result.issues if i.explained) if self.outcome else 0


@dataclass
class Collection:
    form: Form
    year: int | None
    outcomes: list[Outcome] = field(default_factory=list)
    statuses: list[UnitStatus] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)  # collection-level findings
    with_roster: bool = False

    @property
    def counted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.fate == COUNTED]

    @property
    def summed(self) -> list[Outcome]:
        """The files whose figures are in the totals (roster units and units outside it)."""
        return _summed(self)

    @property
    def members(self) -> list[str]:
        """Every unit the totals cover, a collected summary's units in its place."""
        out: list[str] = []
        for o in self.summed:
            assert o.result.report is not None
            out += list(o.result.report.identity.members) or [o.unit]
        return out

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses if s.status == status)

    @property
    def complete(self) -> bool:
        """Every roster unit reported and no counted file has an error."""
        return all(s.status in (REPORTED_OK, REPORTED_HINTS) for s in self.statuses) and not any(
            o.result.errors for o in self.outcomes if o.fate in (COUNTED, UNREADABLE, OUTSIDE)
        )


def find_files(folder: Path) -> list[Path]:
    """Every file below `folder`, sorted, without lock and hidden files."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if not SKIP_NAMES.match(f)]
    return found


def collect(
    folder: Path,
    *,
    roster: Roster | None = None,
    year: int | None = None,
    previous: dict[str, UnitReport] | None = None,
    form: Form | None = None,
    progress: Progress | None = None,
) -> Collection:
    """Read, identify, validate and sum every return in `folder` (never modifying it)."""
    form = form or load_form()
    folder = Path(folder)
    found = find_files(folder)
    mails = [p for p in found if is_mail(p)]
    mail_set = set(mails)
    paths = [p for p in found if p not in mail_set]
    names = [str(path.relative_to(folder)) for path in paths]
    checked = check_many(paths, names, form=form, expected_year=year, progress=progress)
    results = list(zip(checked, paths))
    for mail in mails:
        name = str(mail.relative_to(folder))
        results += [(r.result, r.path) for r in check_mail(mail, name, form, year)]
    return assemble(form, results, roster=roster, year=year, previous=previous)


def assemble(
    form: Form,
    results: Iterable[tuple[FileResult, Path]],
    *,
    roster: Roster | None,
    year: int | None,
    previous: dict[str, UnitReport] | None = None,
) -> Collection:
    """Checked files → outcomes per file, one status per unit, and the sum."""
    coll = Collection(form, year, with_roster=roster is not None)
    matcher = Matcher(roster)
    for result, path in results:
        outcome = Outcome(result, mtime=_mtime(path))
        if result.report is None:
            outcome.fate = UNREADABLE
        else:
            outcome.unit, known = matcher.match(result.report)
            outcome.fate = COUNTED if known else OUTSIDE
        coll.outcomes.append(outcome)
    _resolve_duplicates(coll)
    if previous:
        _apply_previous(coll, previous, year)
    _carry_summaries(coll)
    coll.statuses = _statuses(coll, matcher)
    coll.totals = aggregate(form, [o.result.report for o in _summed(coll)])
    coll.issues = _double_counted(coll)
    return coll


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class Matcher:
    """Roster lookup: by unit code, then by (normalised) name."""

    def __init__(self, roster: Roster | None) -> None:
        self.units = list(roster.units) if roster else []
        self.codes = {u.code: u for u in self.units if u.code}
        self.names = {norm(u.name): u for u in self.units}

    def match(self, report: UnitReport) -> tuple[str, bool]:
        ident = report.identity
        unit = self.codes.get(ident.unit_code) or self.names.get(norm(ident.unit))
        if unit:
            return unit.name, True
        return ident.unit or report.file, not self.units  # without a roster every unit counts


def _resolve_duplicates(coll: Collection) -> None:
    """Several files of one unit: the newest workbook counts (a published .docx/.html only
    when no workbook came), the others are superseded."""
    by_unit: dict[str, list[Outcome]] = {}
    for o in coll.outcomes:
        if o.fate in (COUNTED, OUTSIDE):
            by_unit.setdefault(o.unit, []).append(o)
    for group in by_unit.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda o: (_is_workbook(o), o.mtime, o.result.name), reverse=True)
        for old in group[1:]:
            old.fate = SUPERSEDED
            old.note = f"已被「{group[0].result.name}」替代"
        group[0].note = "替代了「" + "」「".join(o.result.name for o in group[1:]) + "」"


def _is_workbook(o: Outcome) -> bool:
    return o.result.report is not None and o.result.report.identity.source != "published"


def _summed(coll: Collection) -> list[Outcome]:
    return [
        o
        for o in coll.outcomes
        if o.fate in (COUNTED, OUTSIDE) and o.result.report and o.result.report.readable
    ]


def aggregate(form: Form, reports: Iterable[UnitReport | None]) -> dict[str, float]:
    """Sum of every input over the reports, totals recomputed; all decimals kept."""
    sums = {f.id: 0.0 for f in form.inputs}
    for report in reports:
        if report is None:
            continue
        for fid, parsed in report.parsed.items():
            sums[fid] += parsed.value
    return form.compute(sums)


def _statuses(coll: Collection, matcher: Matcher) -> list[UnitStatus]:
    counted = {o.unit: o for o in coll.outcomes if o.fate == COUNTED}
    out = [
        UnitStatus(u, STATUS_OF[counted[u.name].result.status], counted[u.name])
        if u.name in counted
        else UnitStatus(u, NOT_REPORTED)
        for u in matcher.units
    ]
    if not matcher.units:
        out = [
            UnitStatus(UnitInfo(o.unit), STATUS_OF[o.result.status], o)
            for o in coll.outcomes
            if o.fate == COUNTED
        ]
    order = {NOT_REPORTED: 0, REPORTED_ERRORS: 1, REPORTED_HINTS: 2, REPORTED_OK: 3}
    return sorted(out, key=lambda s: order[s.status])


def _apply_previous(coll: Collection, previous: dict[str, UnitReport], year: int | None) -> None:
    """Re-check counted files against last year's figures of the same unit."""
    from nianbao.rules import evaluate

    for o in coll.outcomes:
        report = o.result.report
        prev = previous.get(norm(o.unit)) if report else None
        if report is not None and prev is not None and _year_before(prev, report):
            o.result.issues = evaluate(report, coll.form, expected_year=year, previous=prev)


def _year_before(prev: UnitReport, report: UnitReport) -> bool:
    """Last year's report of a unit is one of the year before (when both years are known)."""
    before, now = prev.identity.year, report.identity.year
    return before is None or now is None or before == now - 1


def _carry_summaries(coll: Collection) -> None:
    """A collected summary brings its units' issues (with their explanations) along."""
    from nianbao.summary_read import carried_issues, summary_issues

    for o in coll.outcomes:
        report = o.result.report
        if report is None or report.identity.kind != "summary":
            continue
        carried = carried_issues(o.result.path, o.result.name, coll.form)
        if carried is not None:
            o.result.issues = summary_issues(o.result.issues, carried, coll.form)


def _double_counted(coll: Collection) -> list[Issue]:
    """A unit inside two collected summaries (or a summary and its own return) counts twice."""
    seen: dict[str, str] = {}
    issues = []
    for o in _summed(coll):
        report = o.result.report
        assert report is not None
        for member in (*report.identity.members, o.unit):
            if member in seen and seen[member] != o.result.name:
                issues.append(
                    Issue(
                        "COUNTED_TWICE",
                        HINT,
                        f"单位「{member}」同时包含在「{seen[member]}」和"
                        f"「{o.result.name}」中，被重复计入汇总。",
                        member,
                        o.result.name,
                    )
                )
            seen.setdefault(member, o.result.name)
    return issues
