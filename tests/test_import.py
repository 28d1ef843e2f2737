"""`nianbao import`: published report (.docx/.html/.txt) → figures and a filled workbook."""

from __future__ import annotations

import random
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import SHARED, consistent_figures, fill, sample_texts
from nianbao.check import check_file
from nianbao.cli import app
from nianbao.form import Form, Layout
from nianbao.importer import SourceError, import_report, write_workbook
from nianbao.office import convert, find_soffice
from nianbao.report import write_report
from nianbao.template import UnitInfo, template_bytes

REAL = SHARED / "samples" / "qunke-2025-report.txt"
FIXTURES = Path(__file__).resolve().parents[1] / "samples" / "reports"


def _round_trip(form: Form, layout: Layout, values, unit: str, folder: Path):
    texts = sample_texts(unit, values)
    src = fill(template_bytes(2025, UnitInfo(unit)), folder / "in.xlsx", layout, values, texts)
    published = write_report(src, folder / "报告.docx")[0]
    return import_report(published), texts


def _assert_same(result, form: Form, values, texts, unit: str) -> None:
    assert (result.unit, result.year, result.problems) == (unit, 2025, [])
    assert result.values == {f.id: values.get(f.id, 0.0) for f in form.inputs}
    computed = form.compute(values)
    assert result.stored_totals == {k: computed[k] for k in result.stored_totals}
    assert {k: result.texts[k] for k in ("s1", "s5", "s6")} == {
        k: texts[k] for k in ("s1", "s5", "s6")
    }


def test_round_trip_fixed_case(form: Form, layout: Layout, tmp_path: Path) -> None:
    values = consistent_figures(form, random.Random(11))
    values["t2.fee.amount"] = 24252.311082
    result, texts = _round_trip(form, layout, values, "群科镇人民政府", tmp_path)
    _assert_same(result, form, values, texts, "群科镇人民政府")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    amount=st.decimals(0, 99999, places=6, allow_nan=False, allow_infinity=False),
    unit=st.sampled_from(["群科镇", "化隆县教育局", "化隆县"]),
)
def test_round_trip_random_figures(
    form: Form, layout: Layout, seed: int, amount: Decimal, unit: str
) -> None:
    values = consistent_figures(form, random.Random(seed), scale=200)
    values["t2.fee.amount"] = float(amount)
    with tempfile.TemporaryDirectory() as tmp:
        result, texts = _round_trip(form, layout, values, unit, Path(tmp))
    _assert_same(result, form, values, texts, unit)


@pytest.mark.libreoffice
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) 未安装")
def test_round_trip_through_html_page(form: Form, layout: Layout, tmp_path: Path) -> None:
    values = consistent_figures(form, random.Random(3))
    texts = sample_texts("群科镇", values)
    src = fill(
        template_bytes(2025, UnitInfo("群科镇")), tmp_path / "in.xlsx", layout, values, texts
    )
    page = convert(write_report(src, tmp_path / "报告.docx")[0], "html", tmp_path / "html")
    _assert_same(import_report(page), form, values, texts, "群科镇")


@pytest.mark.skipif(not REAL.is_file(), reason=f"真实样本不在 {REAL}")
def test_real_sample(form: Form, tmp_path: Path) -> None:
    result = import_report(REAL)
    assert (result.unit, result.year, result.problems) == ("群科镇", 2025, [])
    row = [result.values[f.id] for f in form.fields_of_row("t2.normative")]
    assert row == [10, 0, 10]
    others = {k: v for k, v in result.values.items() if not k.startswith("t2.normative.")}
    assert len(others) == len(form.inputs) - 3 and not any(others.values())
    assert result.texts["s6"].startswith("无收取信息处理费")
    out = tmp_path / "群科镇.xlsx"
    cli = CliRunner().invoke(app, ["import", str(REAL), "--out", str(out)])
    assert cli.exit_code == 0, cli.output
    checked = check_file(out, expected_year=2025)
    assert checked.report is not None and checked.unit == "群科镇"
    assert checked.errors == []
    assert checked.report.values["t2.normative.valid"] == 10


FIXTURE_CASES = {
    # file: (unit, year, figures that must be read, substrings of the expected problems)
    "jiaoyuju-2025-report.txt": (
        "化隆县教育局",
        2025,
        {
            "t2.normative.valid": 22,
            "t2.license.decisions": 156,
            "t2.fee.amount": 24.311082,
            "t3.partial.legal": 1,
            "t3.withheld_secret.natural": 0,
            "t3.carry_next.natural": 2,
            "t4.cases.direct_pending": 1,
        },
        [],
    ),
    "xianfuban-2024-report.txt": (
        "化隆县人民政府办公室",
        2024,
        {
            "t2.normative.abolished": 2,
            "t3.withheld_process.natural": 1,
            "t4.cases.review_corrected": 1,
            "t4.cases.after_pending": 0,
        },
        [],
    ),
    "gandu-2025-page.html": (
        "甘都镇",
        2025,
        {
            "t2.normative.issued": 4,
            "t2.license.decisions": 37,
            "t3.new.natural": 3,
            "t3.new.commercial": 0,
            "t2.enforcement.decisions": 0,
        },
        ["表二第11行：表二「行政强制」行「本年处理决定数量」列填的是「/」"],
    ),
    "gandu-2022-old-form.txt": (
        "甘都镇",
        2022,
        {"t3.other_other.natural": 1, "t3.public.natural": 1},
        ["第10行：表二是2019年试行格式", "第53行：表三「（六）其他处理」只有一行"],
    ),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_fixture_reports(name: str, tmp_path: Path) -> None:
    unit, year, figures, problems = FIXTURE_CASES[name]
    result = import_report(FIXTURES / name)
    assert (result.unit, result.year) == (unit, year)
    assert {k: result.values.get(k) for k in figures} == figures
    assert len(result.problems) == len(problems), result.problems
    for text, problem in zip(problems, result.problems):
        assert text in problem
    checked = check_file(write_workbook(result, tmp_path / "out.xlsx"), expected_year=year)
    assert checked.errors == [], [i.message for i in checked.errors]


def test_old_form_table_two_is_not_read(form: Form) -> None:
    result = import_report(FIXTURES / "gandu-2022-old-form.txt")
    assert not any(k.startswith("t2.") for k in result.values)


def _variant(tmp_path: Path, old: str, new: str | None) -> Path:
    """The 教育局 fixture with one piece of text replaced (a line dropped when `new` is None)."""
    text = (FIXTURES / "jiaoyuju-2025-report.txt").read_text("utf-8")
    assert old in text
    path = tmp_path / "variant.txt"
    lines = text.splitlines()
    if new is None:
        lines = [line for line in lines if old not in line]
    path.write_text("\n".join(lines).replace(old, new or old, 1), "utf-8")
    return path


def test_published_total_that_disagrees_is_kept_for_check(tmp_path: Path) -> None:
    path = _variant(tmp_path, "（七）总计\t13\t", "（七）总计\t15\t")
    result = import_report(path)
    assert result.stored_totals["t3.results_total.natural"] == 15
    checked = check_file(write_workbook(result, tmp_path / "out.xlsx"))
    assert [i.code for i in checked.errors] == ["T3_TOTAL_ROW"]
    assert "15" in checked.errors[0].message


def test_missing_row_is_reported_with_its_name(tmp_path: Path) -> None:
    path = _variant(tmp_path, "2、重复申请", None)
    result = import_report(path)
    assert len(result.problems) == 1
    assert "表三" in result.problems[0] and "2. 重复申请" in result.problems[0]
    assert "t3.refused_repeat.natural" not in result.values


def test_number_that_does_not_parse_is_reported_with_its_line(tmp_path: Path) -> None:
    path = _variant(tmp_path, "行政许可\t156件", "行政许可\t约156")
    line = next(n for n, t in enumerate(path.read_text("utf-8").splitlines(), 1) if "约156" in t)
    result = import_report(path)
    assert result.problems == [
        f"第{line}行：表二「行政许可」行「本年处理决定数量」列「约156」不是数字，未读取"
    ]
    assert "t2.license.decisions" not in result.values


def test_row_with_wrong_count_is_not_guessed(tmp_path: Path) -> None:
    row = "一、本年新收政府信息公开申请数量"
    path = _variant(tmp_path, f"{row}\t14\t2\t\t\t1\t\t17", f"{row}\t14\t2\t17")
    result = import_report(path)
    assert "t3.new.natural" not in result.values
    assert any("「一、本年新收政府信息公开申请数量」行有" in p for p in result.problems)


def test_gbk_page_without_charset_is_decoded(tmp_path: Path) -> None:
    data = (FIXTURES / "gandu-2025-page.html").read_bytes().replace(b"charset=gb2312", b"")
    page = tmp_path / "page.htm"
    page.write_bytes(data)
    assert import_report(page).unit == "甘都镇"


def test_unsupported_file_is_a_chinese_error(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(SourceError, match="不支持的文件类型"):
        import_report(path)


def test_cli_import_without_year_asks_for_it(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    title = "群科镇人民政府信息公开工作年度报告"  # one figure: a report with none is refused
    path.write_text(f"{title}\n行政许可\t156件\n一、总体情况\n全年无申请。\n", "utf-8")
    out = tmp_path / "o.xlsx"
    result = CliRunner().invoke(app, ["import", str(path), "--out", str(out)])
    assert result.exit_code == 2 and not out.exists()
    result = CliRunner().invoke(app, ["import", str(path), "--out", str(out), "--year", "2025"])
    assert result.exit_code == 1 and out.exists()  # written, with what was not found listed
    assert check_file(out).unit == "群科镇"
