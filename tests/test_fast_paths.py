"""The fast paths taken for speed give exactly what the general ones give."""

from __future__ import annotations

import io
import math
import pickle
import random
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from rich.console import Console

from conftest import consistent_figures
from nianbao import cli_collect, prolog, reader, summary, template
from nianbao.check import FileResult
from nianbao.collect import assemble
from nianbao.files import open_bytes
from nianbao.form import Form, Layout
from nianbao.issues import ERROR, HINT, Issue
from nianbao.numbers import parse_number
from nianbao.reader import Identity, UnitReport
from nianbao.template import UnitInfo


def _zip(members: list[tuple[str, bytes]], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _bad_crc(data: bytes) -> bytes:
    """The first member's CRC in the central directory flipped."""
    at = data.rfind(b"PK\x01\x02")
    out = bytearray(data)
    out[at + 16] ^= 0xFF
    return bytes(out)


PARTS = {
    "doctype": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>',
    "long prolog": b'<?xml version="1.0"?>' + b" " * 5000 + b"<x/>",
    "no element": b" " * 300_000,
    "empty": b"",
    "doctype after the root": b"<x/>" + b"<!DOCTYPE",
    "doctype in the second chunk": b"<?xml?>" + b"a" * 8190 + b"<!DOCTYPE<x/>",
    "utf-16": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16-le"),
    "binary": random.Random(1).randbytes(20_000),
    "plain": b'<?xml version="1.0"?><worksheet><c r="A1"/></worksheet>',
}


def _general(data: bytes) -> list[bool]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [prolog.declares_doctype(zf, i) for i in zf.infolist()]


def _raw(data: bytes) -> list[bool | None]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [prolog.declares_doctype_raw(data, i) for i in zf.infolist()]


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("part", list(PARTS))
def test_the_prolog_check_inflating_in_place_decides_as_zipfile_does(part, method):
    data = _zip([("xl/part.xml", PARTS[part])], method)
    assert _raw(data) == _general(data)
    broken = _bad_crc(data)
    assert _raw(broken) in ([None], _general(broken))  # None: left to the general check
    if part == "doctype":
        assert _general(data) == [True]


def test_the_prolog_check_agrees_on_a_real_template_and_refuses_other_compressions():
    data = template.template_bytes(2025, UnitInfo("甲镇"))
    assert _raw(data) == _general(data) == [False] * len(_general(data))
    lzma = _zip([("a.xml", PARTS["doctype"])], zipfile.ZIP_LZMA)
    assert _raw(lzma) == [None]
    with pytest.raises(reader.FileProblem):
        prolog.reject_doctype(lzma)


@pytest.mark.parametrize("raw", [0.0, -0.0, 1.0, 12.0, 0.0125, 1e300, math.inf, math.nan, 7])
def test_a_number_cell_parses_as_before(raw):
    parsed = parse_number(raw)
    if isinstance(raw, float) and not math.isfinite(raw):
        assert (parsed.value, parsed.status) == (0.0, "invalid") and parsed.raw is raw
    else:
        assert (parsed.value, parsed.status, parsed.raw) == (float(raw), "ok", raw)
        assert math.copysign(1, parsed.value) == math.copysign(1, raw)


def test_number_rows_are_written_as_xlsxwriter_writes_them():
    rows = [
        [1.0, 0.0, -0.0, 0.0125, 123456789.123456789, 1e20, 7.0],
        [2.5] * 30,
        [1.0, math.inf, 3.0],  # falls back to XlsxWriter (which refuses inf)
    ]

    def sheet(cls) -> bytes:
        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, {"in_memory": True, "nan_inf_to_errors": True})
        ws = wb.add_worksheet("明细", cls)
        ws.write_string(0, 0, "单位")
        ws.set_row(1, None, None, {"hidden": True})
        for r, numbers in enumerate(rows, start=2):
            ws.write_string(r, 0, f"单位{r}")
            ws.write_numbers(r, 3, numbers)
        ws.write_numbers(1_048_576, 0, [1.0, 2.0])  # past the last row: nothing, as before
        wb.close()
        with zipfile.ZipFile(buf) as zf:
            return zf.read("xl/worksheets/sheet1.xml")

    class Plain(xlsxwriter.worksheet.Worksheet):
        def write_numbers(self, row, first_col, numbers):
            for col, number in enumerate(numbers, start=first_col):
                self.write_number(row, col, number)

    assert sheet(summary.NumberRowsSheet) == sheet(Plain)


@pytest.mark.parametrize("password", ["", "秘密"])
def test_a_template_locked_while_written_equals_one_locked_afterwards(monkeypatch, password):
    unit = UnitInfo("甲镇", "001", category="乡镇")
    locked = template.template_bytes(2025, unit, password=password, template_id="t")
    monkeypatch.setattr(template, "LockedWorkbook", xlsxwriter.Workbook)
    plain = template.template_bytes(2025, unit, password=password, template_id="t")
    after = template.lock_structure(plain, password)
    new, old = zipfile.ZipFile(io.BytesIO(locked)), zipfile.ZipFile(io.BytesIO(after))
    assert new.namelist() == old.namelist()
    for name in new.namelist():
        if name != "docProps/core.xml":  # holds the time of writing
            assert new.read(name) == old.read(name), name
    assert b"<workbookProtection" in new.read("xl/workbook.xml")


def _result(form: Form, unit: str, issues: list[Issue]) -> FileResult:
    values = consistent_figures(form, random.Random(len(unit)))
    report = UnitReport(f"{unit}.xlsx", Identity(unit=unit, year=2025))
    report.parsed = {fid: parse_number(v) for fid, v in values.items()}
    return FileResult(Path(report.file), report.file, report, issues)


def test_a_large_season_lists_only_errors_on_the_terminal(form: Form, layout: Layout):
    fid = next(iter(layout.fields))
    hint = Issue("SOME_HINT", HINT, "请核实", sheet="表三", cell="D5")
    results = [_result(form, f"单位{i:03d}", [hint]) for i in range(cli_collect.BRIEF_FROM + 5)]
    error = Issue("SOME_ERROR", ERROR, f"{fid} 有错误", sheet="表三", cell="D6")
    results.append(_result(form, "出错单位", [error]))
    coll = assemble(form, [(r, r.path) for r in results], roster=None, year=2025)
    shown = Console(file=io.StringIO(), width=200)
    cli_collect.console, saved = shown, cli_collect.console
    try:
        cli_collect.print_collection(coll)
    finally:
        cli_collect.console = saved
    out = shown.file.getvalue()  # type: ignore[attr-defined]
    assert "出错单位" in out and "SOME_ERROR" in out
    assert "SOME_HINT" not in out and "单位001" not in out
    assert f"{len(results) - 1} 条提示未列出，详见汇总工作簿「问题」" in out
    assert f"已报且通过、已报有提示的 {len(results) - 1} 个单位未列出" in out
    assert f"已计入且无错误的 {len(results) - 1} 个文件未列出" in out


def _compute_recursively(form: Form, values: dict[str, float]) -> dict[str, float]:
    """Form.compute as it was first written: each total summed from its parts on demand."""
    out = {f.id: float(values.get(f.id, 0.0)) for f in form.inputs}

    def total(fid: str) -> float:
        if fid not in out:
            out[fid] = sum(total(p) for p in form.by_id[fid].sum_of)
        return out[fid]

    for f in form.totals:
        total(f.id)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_compute_in_its_cached_order_equals_the_recursive_sums(form: Form, seed: int):
    rng = random.Random(seed)
    values = consistent_figures(form, rng)
    for fid in rng.sample(sorted(values), 40):  # decimals that do not add associatively
        values[fid] = rng.choice([0.1, 0.7, 1e16, -0.0, 3.3333])
    for fid in rng.sample(sorted(values), 20):
        del values[fid]
    fast, slow = form.compute(values), _compute_recursively(form, values)
    assert list(fast.items()) == list(slow.items())  # same order, same bits (== on floats)
    assert [math.copysign(1, v) for v in fast.values()] == [
        math.copysign(1, v) for v in slow.values()
    ]


def test_a_report_computes_once_and_afresh_when_given_other_figures(form: Form):
    report = UnitReport("甲.xlsx", Identity(unit="甲镇"))
    values = consistent_figures(form, random.Random(3))
    report.parsed = {fid: parse_number(v) for fid, v in values.items()}
    first = report.computed(form)
    assert first == form.compute(report.values) and report.computed(form) is first
    back = pickle.loads(pickle.dumps(report))  # as a worker hands it to the summary
    assert back.computed(form) == first and back == report
    report.parsed = {fid: parse_number(v + 1) for fid, v in values.items()}
    assert report.computed(form) == form.compute(report.values) != first


def _doctype_xlsx() -> bytes:
    data = template.template_bytes(2025, UnitInfo("甲镇"))
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        members = [(i.filename, src.read(i)) for i in src.infolist()]
    members.append(("xl/evil.xml", PARTS["doctype"]))
    return _zip(members, zipfile.ZIP_DEFLATED)


def _doctype_verdict(data: bytes, infos) -> str:
    try:
        prolog.reject_doctype(data, infos)
    except reader.FileProblem as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize("kind", ["template", "doctype", "lzma"])
def test_the_zip_directory_read_when_opening_serves_the_prolog_check(kind: str):
    data = {
        "template": lambda: template.template_bytes(2025, UnitInfo("甲镇")),
        "doctype": _doctype_xlsx,
        "lzma": lambda: _zip([("xl/workbook.xml", PARTS["doctype"])], zipfile.ZIP_LZMA),
    }[kind]()
    opened = open_bytes(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        fresh = zf.infolist()
    fields = ("filename", "header_offset", "compress_size", "file_size", "CRC", "flag_bits")
    assert [[getattr(i, f) for f in fields] for i in opened.zip_infos] == [
        [getattr(i, f) for f in fields] for i in fresh
    ]
    verdict = _doctype_verdict(data, opened.zip_infos)
    assert verdict == _doctype_verdict(data, None) == ("ok" if kind == "template" else "FILE_BOMB")


def test_parts_answered_from_memory_get_the_answer_worked_out_afresh(monkeypatch):
    data = _doctype_xlsx()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    prolog._seen.clear()
    fresh = [prolog.declares_doctype_raw(data, i) for i in infos]
    remembered = [prolog.declares_doctype_raw(data, i) for i in infos]
    monkeypatch.setattr(prolog, "SEEN_MAX_BYTES", -1)  # nothing remembered
    assert fresh == remembered == [prolog.declares_doctype_raw(data, i) for i in infos]
    assert fresh[-1] is True and fresh.count(True) == 1
    monkeypatch.undo()
    broken = _bad_crc(data)  # the DTD part's bytes with another CRC: not the remembered answer
    assert _raw(broken) == _general(broken) == [*fresh[:-1], False]
