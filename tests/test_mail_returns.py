"""Returns that arrive as e-mail are collected like the bare workbooks."""

from __future__ import annotations

import email.policy
import hashlib
import shutil
from email.header import Header
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from nianbao.collect import COUNTED, collect

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rfc2231_message(sender: str, attachments: list[tuple[str, bytes]]) -> bytes:
    msg = EmailMessage(policy=email.policy.default)
    msg["From"], msg["To"], msg["Subject"] = sender, "gk@example.cn", "回传：年报"
    msg["Date"] = "Mon, 12 Jan 2026 09:30:00 +0800"
    msg.set_content("附件是我单位的年报，请查收。")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype=XLSX.split("/")[1], filename=name)
    return msg.as_bytes()


def gb18030_message(sender: str, name: str, data: bytes) -> bytes:
    """An attachment name as RFC 2047 encoded-words in GB18030, as some clients write it."""
    outer = MIMEMultipart()
    outer["From"], outer["To"], outer["Subject"] = sender, "gk@example.cn", "年报"
    outer.attach(MIMEText("见附件", "plain", "gb18030"))
    part = MIMEApplication(data, _subtype=XLSX.split("/")[1])
    part.add_header("Content-Disposition", "attachment", filename=Header(name, "gb18030").encode())
    outer.attach(part)
    return outer.as_bytes()


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_eml_returns_give_the_same_summary_as_the_bare_workbooks(make_return, tmp_path) -> None:
    units = ["群科镇", "巴燕镇", "甘都镇", "扎巴镇"]
    files = [make_return(u, seed=n, name=f"{u}.xlsx") for n, u in enumerate(units)]
    bare, mailed = tmp_path / "bare", tmp_path / "mailed"
    bare.mkdir()
    mailed.mkdir()
    for f in files:
        shutil.copy(f, bare / f.name)
    data = [f.read_bytes() for f in files]
    (mailed / "两个附件.eml").write_bytes(
        rfc2231_message(
            "群科镇 <qk@example.cn>", [("群科镇年报.xlsx", data[0]), ("巴燕镇年报.xlsx", data[1])]
        )
    )
    (mailed / "gb18030.eml").write_bytes(
        gb18030_message("gd@example.cn", "甘都镇政府信息公开年报䶮.xlsx", data[2])
    )
    (mailed / "回传邮件").write_bytes(rfc2231_message("zb@example.cn", [("年报.xlsx", data[3])]))
    before = digest(mailed)

    from_bare, from_mail = collect(bare), collect(mailed)

    assert from_mail.totals == from_bare.totals
    counted = {o.unit: o.result.name for o in from_mail.outcomes if o.fate == COUNTED}
    assert set(counted) == set(units)
    assert "gb18030.eml → 甘都镇政府信息公开年报䶮.xlsx" in counted["甘都镇"]
    assert counted["群科镇"].startswith("两个附件.eml → 群科镇年报.xlsx（群科镇 <qk@example.cn>")
    assert counted["扎巴镇"].startswith("回传邮件 → 年报.xlsx")
    assert digest(mailed) == before
