"""The validation result is the same whichever reader path a file takes (issue #6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nianbao import office
from nianbao.check import check_file

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "returned"
WORKBOOKS = sorted(p for p in SAMPLES.rglob("*.xlsx") if check_file(p).report is not None)


def findings(path: Path) -> list[tuple[str, str, str, str]]:
    result = check_file(path)
    assert result.report is not None
    return [(i.code, i.severity, i.sheet, i.cell) for i in result.issues]


@pytest.mark.skipif(office.find_soffice() is None, reason="LibreOffice 未安装")
@pytest.mark.parametrize("sample", WORKBOOKS, ids=lambda p: p.name)
def test_a_sample_saved_as_xls_gives_the_same_findings(sample: Path, tmp_path: Path) -> None:
    as_xls = office.convert(sample, "xls", tmp_path)
    xlsx = check_file(sample)
    xls = check_file(as_xls)
    assert xls.report is not None and xlsx.report is not None
    assert xls.report.values == xlsx.report.values
    assert xls.report.texts == xlsx.report.texts
    assert findings(as_xls) == findings(sample)
