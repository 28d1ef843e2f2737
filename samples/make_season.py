"""Write samples/returned/: a small, realistic season of returns (python samples/make_season.py).

Built from samples/units.xlsx and the form declaration: templates made by nianbao, filled the way
a unit does (openpyxl), saved under the names people really send. Output is byte-for-byte
deterministic (fixed seeds, template ids and zip timestamps). What the season holds:

- most units clean, with consistent figures and ordinary report texts;
- 扎巴镇 with a 勾稽 error (table 三 does not balance);
- 群科镇 twice: a first return with an error, then a corrected one (newer mtime, later name);
- 县财政局 with a 提示 explained in 情况说明; 县人力资源和社会保障局 with an open 提示;
- 县卫生健康局's attachment truncated in transit; a Word report and a scanned PDF beside the
  workbooks; 昂思多镇 has not reported.

`python samples/make_season.py --picture` also renders templates/summary-表三.png from the
season's summary (needs LibreOffice). Git does not keep mtimes: the corrected 群科镇 file also
sorts after the first one, which is how collect breaks a tie and the order in which a checkout
writes them.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import docx
import openpyxl

from nianbao.form import Form, Layout, layout_for, load_form
from nianbao.roster import read_roster
from nianbao.template import UnitInfo, template_bytes

YEAR = 2025
HERE = Path(__file__).resolve().parent
ZIP_TIME = (2026, 1, 10, 9, 0, 0)
# Result rows of table 三 and how often applications end there (予以公开 is the usual answer).
RESULT_WEIGHTS = {
    "public": 10, "partial": 2, "unavailable_not_held": 3, "unavailable_to_make": 1,
    "refused_petition": 1, "refused_repeat": 1, "other_no_correction": 1, "other_other": 1,
}  # fmt: skip
APPLICANTS = {"natural": 8, "commercial": 2, "nonprofit": 1, "legal": 1}


@dataclass
class Return:
    """One file a unit sends back."""

    unit: str
    name: str
    seed: int
    scale: int = 6
    balance_error: bool = False  # 本年新收 one more than table 三 accounts for
    s1_counts_carried: bool = False  # 一、总体情况 states new + carried applications
    note: str = ""
    no_fee_sentence: bool = False
    sent: str = "2026-01-12 10:00"
    texts: dict[str, str] = field(default_factory=dict)


SEASON = [
    Return("巴燕镇", "巴燕镇2025年政府信息公开工作年度报告.xlsx", 11, sent="2026-01-08 09:20"),
    Return("群科镇", "群科镇年报.xlsx", 12, balance_error=True, sent="2026-01-09 15:02"),
    Return("群科镇", "群科镇年报（修改后）.xlsx", 12, sent="2026-01-13 11:47"),
    Return("甘都镇", "回传(1).xlsx", 13, sent="2026-01-10 16:35"),
    Return("扎巴镇", "扎巴镇政务公开年报.xlsx", 14, balance_error=True, sent="2026-01-12 08:58"),
    Return("牙什尕镇", "新建 Microsoft Excel 工作表.xlsx", 16, sent="2026-01-11 17:40"),
    Return("县教育局", "县教育局/年报.xlsx", 21, scale=14, sent="2026-01-09 10:12"),
    Return(
        "县财政局",
        "附件1：县财政局年报表.xlsx",
        22,
        scale=10,
        s1_counts_carried=True,
        note="「一、总体情况」所述申请件数含上年结转的申请，表三「一、本年新收」为本年新收件数，"
        "两处口径不同，数据无误。",
        sent="2026-01-12 14:21",
    ),
    Return("县自然资源局", "自然资源局（终稿）.xlsx", 24, scale=18, sent="2026-01-10 09:05"),
    Return(
        "县人力资源和社会保障局",
        "人社局2025年报.xlsx",
        25,
        scale=12,
        no_fee_sentence=True,
        sent="2026-01-13 09:33",
    ),
    Return("县市场监督管理局", "市场监管局 年报 2025.xlsx", 26, scale=16, sent="2026-01-11 11:18"),
]
TRUNCATED = ("县卫生健康局", "县卫健局政府信息公开年报.xlsx", 23, "2026-01-12 18:03")
WORD_REPORT = (
    "县自然资源局",
    "县自然资源局2025年政府信息公开工作年度报告.docx",
    "2026-01-10 09:05",
)
SCANNED_PDF = ("县教育局/盖章扫描件.pdf", "2026-01-09 10:12")
PHONES = {u: f"0972-87{n:05d}" for n, u in enumerate(
    ["巴燕镇", "群科镇", "甘都镇", "扎巴镇", "牙什尕镇", "县教育局", "县财政局", "县卫生健康局",
     "县自然资源局", "县人力资源和社会保障局", "县市场监督管理局"], start=31201)}  # fmt: skip


def figures(form: Form, rng: random.Random, scale: int, township: bool) -> dict[str, float]:
    """Input figures of one unit that satisfy every 强制 rule of the form."""
    values = {f.id: 0.0 for f in form.inputs}
    for col, weight in APPLICANTS.items():
        done = _results(values, col, rng, rng.randint(0, scale * weight // 8))
        carry = rng.randint(0, 2) if done else 0
        carried = rng.randint(0, min(2, done + carry))
        values[f"t3.carry_next.{col}"], values[f"t3.carried.{col}"] = float(carry), float(carried)
        values[f"t3.new.{col}"] = float(done + carry - carried)
    _table_two(values, rng, scale, township)
    if not township and rng.random() < 0.5:
        values["t4.cases.review_upheld"] = float(rng.randint(1, 2))
        values["t4.cases.direct_pending"] = float(rng.randint(0, 1))
    return values


def _results(values: dict[str, float], col: str, rng: random.Random, n: int) -> int:
    """Spread n answered applications of one applicant column over the result rows."""
    for row in rng.choices(list(RESULT_WEIGHTS), weights=list(RESULT_WEIGHTS.values()), k=n):
        values[f"t3.{row}.{col}"] += 1
    return n


def _table_two(values: dict[str, float], rng: random.Random, scale: int, township: bool) -> None:
    valid = rng.randint(3, 8 if township else 30)
    abolished = rng.randint(0, min(2, valid))
    values["t2.normative.issued"] = float(rng.randint(0, 4))
    values["t2.normative.abolished"] = float(abolished)
    values["t2.normative.valid"] = float(valid)
    values["t2.license.decisions"] = float(rng.randint(0, 20) if township else scale * 25)
    values["t2.penalty.decisions"] = float(rng.randint(0, 5) if township else scale * 4)
    values["t2.enforcement.decisions"] = float(rng.randint(0, 2 if township else 12))
    values["t2.fee.amount"] = 0.0 if township else round(rng.uniform(2, 60), 2)


def report_texts(ret: Return, unit: UnitInfo, values: dict[str, float]) -> dict[str, str]:
    """The header and text sections as a unit writes them."""
    new = sum(v for k, v in values.items() if k.startswith("t3.new."))
    stated = new + sum(v for k, v in values.items() if k.startswith("t3.carried."))
    count = int(stated if ret.s1_counts_carried else new)
    fee = "本年度未收取信息处理费。" if not ret.no_fee_sentence else "无其他需要报告的事项。"
    day = ret.sent[:10]
    return {
        "filler": unit.contact,
        "phone": PHONES.get(ret.unit, "0972-8700000"),
        "date": day,
        "s1": f"{YEAR}年，{ret.unit}坚持以习近平新时代中国特色社会主义思想为指导，认真贯彻落实"
        "《中华人民共和国政府信息公开条例》，围绕重点工作做好主动公开，"
        f"全年共收到政府信息公开申请{count}件，均在法定期限内答复。"
        f"通过政府门户网站主动公开各类信息{int(values['t2.normative.issued']) * 7 + 40}条，"
        "及时更新政府信息公开指南和目录，政务公开制度建设和监督保障不断加强。",
        "s5": "存在的主要问题：一是政策解读形式较为单一，图解、视频解读偏少；"
        "二是基层政务公开专栏更新不够及时。改进情况：已制定年度政务公开工作要点，"
        "明确专人负责专栏维护，上年度指出的问题均已整改。",
        "s6": fee + ("本年度无其他需要报告的事项。" if not ret.no_fee_sentence else ""),
        **({"note": ret.note} if ret.note else {}),
        **ret.texts,
    }


def filled(form: Form, lay: Layout, ret: Return, unit: UnitInfo) -> bytes:
    """The unit's template, filled and saved the way a person does it."""
    rng = random.Random(ret.seed)
    values = figures(form, rng, ret.scale, unit.category == "乡镇")
    if ret.balance_error:
        values["t3.new.natural"] += 1
    if ret.s1_counts_carried:  # two applications carried in from last year and on to the next
        values["t3.carried.natural"] += 2
        values["t3.carry_next.natural"] += 2
    texts = report_texts(ret, unit, values)
    template_id = hashlib.sha256(f"{YEAR}:{unit.code}".encode()).hexdigest()[:32]
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes(YEAR, unit, template_id=template_id)))
    for fid, value in values.items():
        cell = lay.fields[fid]
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1, int(value) if value.is_integer() else value)
    for tid, text in texts.items():
        cell = lay.texts[tid].cell
        wb[cell.sheet].cell(cell.row + 1, cell.col + 1, text)
    buf = io.BytesIO()
    wb.save(buf)
    return stable_zip(buf.getvalue())


def stable_zip(data: bytes) -> bytes:
    """The same zip with fixed entry times and document dates, so reruns give equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*ZIP_TIME).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, body
                )
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return out.getvalue()


def word_report(unit: str) -> bytes:
    """The unit's published report as a Word document: sent along, but not a workbook."""
    doc = docx.Document()
    doc.add_heading(f"{unit}{YEAR}年政府信息公开工作年度报告", level=1)
    doc.add_paragraph("一、总体情况")
    doc.add_paragraph(f"{YEAR}年，{unit}认真贯彻落实《中华人民共和国政府信息公开条例》……")
    doc.add_paragraph("（表二至表四见附件 Excel 报表）")
    buf = io.BytesIO()
    doc.save(buf)
    return stable_zip(buf.getvalue())


def scanned_pdf() -> bytes:
    """A one-page PDF standing in for a stamped scan."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out, offsets = io.BytesIO(b"%PDF-1.4\n"), []
    out.seek(0, 2)
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.writelines(b"%010d 00000 n \n" % off for off in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    )
    return out.getvalue()


def _put(dest: Path, name: str, data: bytes, sent: str) -> None:
    path = dest / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = datetime.strptime(sent, "%Y-%m-%d %H:%M").timestamp()
    os.utime(path, (when, when))


def make_season(dest: Path, roster_path: Path) -> list[Path]:
    """Write the whole season into `dest` (emptied first); return the files written."""
    form = load_form()
    lay = layout_for(form)
    units = {u.name: u for u in read_roster(roster_path).units}
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for ret in SEASON:
        _put(dest, ret.name, filled(form, lay, ret, units[ret.unit]), ret.sent)
    unit, name, seed, sent = TRUNCATED
    whole = filled(form, lay, Return(unit, name, seed, scale=12), units[unit])
    _put(dest, name, whole[: len(whole) * 3 // 5], sent)
    _put(dest, WORD_REPORT[1], word_report(WORD_REPORT[0]), WORD_REPORT[2])
    _put(dest, SCANNED_PDF[0], scanned_pdf(), SCANNED_PDF[1])
    return sorted(p for p in dest.rglob("*") if p.is_file())


def render_summary_table(
    returned: Path, roster_path: Path, target: Path, sheet: str = "表三"
) -> Path:
    """Collect the season and save the summary's page of `sheet` as a PNG (for the README)."""
    from nianbao import office
    from nianbao.collect import collect
    from nianbao.summary import write_summary

    title = next(t.title for t in load_form().tables if t.sheet == sheet)
    with tempfile.TemporaryDirectory(prefix="nianbao-season-") as tmp:
        coll = collect(returned, roster=read_roster(roster_path), year=YEAR)
        pdf = office.convert(write_summary(Path(tmp) / "汇总.xlsx", coll), "pdf", Path(tmp))
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        page = next(n for n, p in enumerate(text.split("\f"), 1) if p.strip().startswith(title))
        stem = target.with_suffix("")
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(page), "-l", str(page),
                        "-singlefile", str(pdf), str(stem)], check=True)  # fmt: skip
    return target


if __name__ == "__main__":
    for written in make_season(HERE / "returned", HERE / "units.xlsx"):
        print(written.relative_to(HERE))
    if "--picture" in sys.argv:  # needs LibreOffice and poppler-utils
        png = HERE.parent / "templates" / "summary-表三.png"
        print(render_summary_table(HERE / "returned", HERE / "units.xlsx", png))
