"""A validation issue, modelled as data (code, severity, unit, file, sheet!cell, message)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from nianbao.form.model import MANDATORY

IssueSeverity = Literal["错误", "提示"]
ERROR: IssueSeverity = "错误"
HINT: IssueSeverity = "提示"


def severity_of(rule_severity: str) -> IssueSeverity:
    """强制 (MANDATORY) rules give 错误, 提示 (ADVISORY) rules give 提示."""
    return ERROR if rule_severity in (MANDATORY, ERROR) else HINT


@dataclass(frozen=True)
class Issue:
    code: str
    severity: IssueSeverity
    message: str
    unit: str = ""
    file: str = ""
    sheet: str = ""
    cell: str = ""
    explanation: str = ""

    @property
    def place(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.sheet and self.cell else self.sheet

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def explained(self) -> bool:
        return self.severity == HINT and bool(self.explanation)

    @property
    def status(self) -> str:
        if self.is_error:
            return ERROR
        return "已说明" if self.explained else HINT

    def for_unit(self, unit: str, file: str) -> Issue:
        return replace(self, unit=self.unit or unit, file=self.file or file)

    def to_dict(self) -> dict[str, str]:
        return {**asdict(self), "place": self.place, "status": self.status}


def sort_issues(issues: list[Issue]) -> list[Issue]:
    """Errors first, then open hints, then explained ones; otherwise in the order found.

    The sort is stable: within each group, issues keep the order of the files and of the rules
    that found them (the declaration's order), which is the order a person fixes them in.
    """
    return sorted(issues, key=lambda i: (not i.is_error, i.explained))
