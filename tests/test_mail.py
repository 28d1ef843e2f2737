"""nianbao mail: drafts, sending to a real SMTP server on 127.0.0.1, reminders, reading returns."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import openpyxl
import pytest
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from mail_season import roster_and_outbox
from nianbao import summary_format as fmt
from nianbao.cli_mail import PASSWORD_ENV, mail
from nianbao.files import FileProblem
from nianbao.form import load_form
from nianbao.issues import ERROR, HINT
from nianbao.mail import (
    LOG_NAME,
    Letterhead,
    SendLog,
    default_body,
    extract_workbooks,
    read_mail,
    read_status,
    reminder_batch,
)
from nianbao.reader import read_unit
from nianbao.template import UnitInfo
from nianbao.templates_out import roster_template_path

YEAR = 2025
UNITS = (
    UnitInfo("群科镇", "630000001", email="qunke@example.cn"),
    UnitInfo("化隆回族自治县教育局", "630000002", email="jiaoyu@example.cn; ban@example.cn"),
    UnitInfo("甘都镇", "630000003", email="gandu@example.cn"),
    UnitInfo("昂思多镇", "630000004", email=""),
)
WITH_ADDRESS = [u for u in UNITS if u.email]
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")

app = typer.Typer()
app.command()(mail)


# ---------------------------------------------------------------- fixtures


class Inbox:
    """An aiosmtpd handler that keeps every message and refuses chosen recipients."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [BytesParser(policy=policy.default).parsebytes(raw) for _, _, raw in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def season(tmp_path: Path) -> dict[str, Path]:
    """A roster with addresses and the outbox of templates `nianbao template` makes from it."""
    return roster_and_outbox(tmp_path, UNITS, YEAR)


def run(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def send_args(season: dict[str, Path], port: int, *extra: object) -> list[object]:
    return [
        "--roster", season["roster"], "--outbox", season["outbox"], "--year", YEAR,
        "--send", "--smtp", f"127.0.0.1:{port}", "--from", "gongkai@example.cn",
        "--from-name", "化隆县政务公开办", "--interval", "0", *extra,
    ]  # fmt: skip


def attachments(msg: EmailMessage) -> list[tuple[str, bytes]]:
    return [(a.get_filename(), a.get_content()) for a in msg.iter_attachments()]


# ---------------------------------------------------------------- drafts


def test_drafts_one_eml_per_unit_with_address(season: dict[str, Path]) -> None:
    drafts = season["tmp"] / "drafts"
    result = run(
        "--roster", season["roster"], "--outbox", season["outbox"], "--year", YEAR,
        "--drafts", drafts, "--deadline", "2026年1月20日", "--from-name", "化隆县政务公开办",
        "--reply-to", "nianbao@example.cn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "昂思多镇" in result.output  # listed as having no address
    assert sorted(p.name for p in drafts.iterdir()) == sorted(f"{u.name}.eml" for u in WITH_ADDRESS)
    for unit in WITH_ADDRESS:
        raw = (drafts / f"{unit.name}.eml").read_bytes()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert msg["Subject"] == f"关于报送{YEAR}年度政府信息公开工作年度报告的通知（{unit.name}）"
        assert [a.addr_spec for a in msg["To"].addresses] == [
            a.strip() for a in unit.email.split(";")
        ]
        assert msg["X-Unsent"] == "1" and msg["Reply-To"] == "nianbao@example.cn"
        body = msg.get_body(("plain",)).get_content()
        for text in (
            unit.name,
            str(YEAR),
            "2026年1月20日",
            "化隆县政务公开办",
            "nianbao@example.cn",
        ):
            assert text in body
        template = roster_template_path(season["outbox"], unit)
        assert attachments(msg) == [(template.name, template.read_bytes())]
        [part] = msg.iter_attachments()
        assert part.get_content_type() == "/".join(XLSX)
        headers = raw.split(b"\r\n\r\n")[0] + raw.split(b"Content-Disposition")[1][:300]
        assert b"filename*" in headers and b"utf-8''" in headers  # RFC 2231
        assert raw.isascii()  # every header and body is 7-bit safe for any relay


def test_body_template_file_is_used(season: dict[str, Path]) -> None:
    body = season["tmp"] / "正文.txt"
    body.write_text("{单位名称}同志：请于{截止日期}前报送{年度}年度报告。{未知}", encoding="gbk")
    drafts = season["tmp"] / "drafts"
    result = run(
        "--roster", season["roster"], "--outbox", season["outbox"], "--year", YEAR,
        "--drafts", drafts, "--deadline", "1月20日", "--body-template", body,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    msg = BytesParser(policy=policy.default).parsebytes((drafts / "群科镇.eml").read_bytes())
    text = msg.get_body(("plain",)).get_content()
    assert text.strip() == f"群科镇同志：请于1月20日前报送{YEAR}年度报告。{{未知}}"


def test_editable_copy_matches_builtin_body() -> None:
    repo = Path(__file__).resolve().parents[1] / "templates"
    assert (repo / "邮件正文模板.txt").read_text(encoding="utf-8") == default_body()
    assert (repo / "催报邮件正文模板.txt").read_text(encoding="utf-8") == default_body(True)


def test_missing_template_stops_before_anything(season: dict[str, Path]) -> None:
    roster_template_path(season["outbox"], UNITS[0]).unlink()
    result = run(
        "--roster", season["roster"], "--outbox", season["outbox"], "--year", YEAR,
        "--drafts", season["tmp"] / "drafts",
    )  # fmt: skip
    assert result.exit_code == 2 and UNITS[0].name in result.output
    assert not (season["tmp"] / "drafts").exists()


# ---------------------------------------------------------------- sending


def test_send_rerun_and_force(season: dict[str, Path], inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    result = run(*send_args(season, port))
    assert result.exit_code == 0, result.output
    assert len(handler.received) == len(WITH_ADDRESS)
    by_unit = {m["Subject"].rsplit("（", 1)[1].rstrip("）"): m for m in handler.messages()}
    assert sorted(by_unit) == sorted(u.name for u in WITH_ADDRESS)
    for (sender, rcpts, _), msg in zip(handler.received, handler.messages()):
        unit = next(u for u in WITH_ADDRESS if u.name in msg["Subject"])
        assert sender == "gongkai@example.cn"
        assert rcpts == [a.strip() for a in unit.email.split(";")]
        [(name, data)] = attachments(msg)
        saved = season["tmp"] / "got" / name
        saved.parent.mkdir(exist_ok=True)
        saved.write_bytes(data)
        assert name == f"{unit.name}.xlsx"
        assert read_unit(saved).identity.unit == unit.name
    logged = SendLog.load(season["outbox"]).rows
    assert sorted(r["单位名称"] for r in logged) == sorted(u.name for u in WITH_ADDRESS)
    sent_ids = {m["Message-ID"] for m in handler.messages()}
    assert {r["Message-ID"] for r in logged} == sent_ids

    again = run(*send_args(season, port))
    assert again.exit_code == 0, again.output
    assert len(handler.received) == len(WITH_ADDRESS)  # nothing new went out

    forced = run(*send_args(season, port, "--force"))
    assert forced.exit_code == 0, forced.output
    assert len(handler.received) == 2 * len(WITH_ADDRESS)


def test_refused_recipient_is_not_logged(season: dict[str, Path], inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    handler.refuse = {"gandu@example.cn"}
    result = run(*send_args(season, port))
    assert result.exit_code == 1
    assert "gandu@example.cn" in result.output and "拒绝" in result.output
    assert "Traceback" not in result.output
    assert len(handler.received) == len(WITH_ADDRESS) - 1  # the others still went
    logged = {r["单位名称"] for r in SendLog.load(season["outbox"]).rows}
    assert "甘都镇" not in logged and len(logged) == len(WITH_ADDRESS) - 1

    handler.refuse = set()
    retry = run(*send_args(season, port))
    assert retry.exit_code == 0, retry.output
    assert [r for _, r, _ in handler.received[len(WITH_ADDRESS) - 1 :]] == [["gandu@example.cn"]]


def test_dead_server_fails_cleanly(season: dict[str, Path]) -> None:
    result = run(*send_args(season, free_port()))  # nothing listens on a just-freed port
    assert result.exit_code == 1
    assert "无法连接邮件服务器" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert SendLog.load(season["outbox"]).rows == []


class Accept:
    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret-code", handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_password_from_environment(season: dict[str, Path]) -> None:
    handler, auth, port = Inbox(), Accept(), free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False
    )
    controller.start()
    try:
        args = send_args(season, port, "--smtp-user", "gongkai@example.cn")
        wrong = run(*args, env={PASSWORD_ENV: "wrong"})
        assert wrong.exit_code == 1 and "授权码" in wrong.output and not handler.received
        good = run(*args, env={PASSWORD_ENV: "s3cret-code"})
    finally:
        controller.stop()
    assert good.exit_code == 0, good.output
    assert len(handler.received) == len(WITH_ADDRESS)
    assert auth.logins[-1] == (b"gongkai@example.cn", b"s3cret-code")
    assert "s3cret-code" not in good.output + wrong.output
    assert "s3cret-code" not in (season["outbox"] / LOG_NAME).read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ([], "--drafts"),
        (["--send"], "--smtp"),
        (["--send", "--smtp", "127.0.0.1:25", "--ssl", "--starttls", "--from", "a@b.cn"], "--ssl"),
        (["--send", "--smtp", "127.0.0.1:port", "--from", "a@b.cn"], "--smtp"),
        (["--send", "--smtp", "127.0.0.1:25"], "--from"),
        (["--drafts", "d", "--remind"], "--status"),
    ],
)
def test_usage_errors(season: dict[str, Path], extra: list[str], said: str) -> None:
    base = ["--roster", season["roster"], "--outbox", season["outbox"], "--year", YEAR]
    result = run(*base, *extra)
    assert result.exit_code == 2 and said in result.output


# ---------------------------------------------------------------- reminders


def status_workbook(path: Path) -> Path:
    """A summary shaped by summary_format, its columns shuffled and a title row above them."""
    form = load_form()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = fmt.STATUS
    ws.append([f"{YEAR}年度政府信息公开工作年度报告报送情况"])
    headers = list(reversed(fmt.STATUS_HEADERS))  # found by header, not by position
    ws.append(headers)
    statuses = ["未报", "已报有错误", "已报且通过", "已报有提示"]
    for u, s in zip(UNITS, statuses):
        row = {
            fmt.STATUS_UNIT: u.name,
            fmt.STATUS_CODE: u.code,
            fmt.STATUS_STATE: s,
            fmt.STATUS_EMAIL: u.email or "angsiduo@example.cn",
        }
        ws.append([row.get(h, "") for h in headers])
    problems = wb.create_sheet(fmt.PROBLEMS)
    columns = list(reversed(fmt.problem_headers(form)))
    problems.append(columns)
    for text, level, unit, place in [
        ("合计不等于各项之和", ERROR, UNITS[1].name, "表三!D5"),
        ("年度与模板不符", ERROR, UNITS[1].name, "封面!B2"),
        ("数值偏大，请核实", HINT, UNITS[1].name, "表二!C4"),
        ("数值偏大，请核实", ERROR, UNITS[2].name, "表二!C9"),
    ]:
        row = {
            fmt.PROBLEM_TEXT: text,
            fmt.PROBLEM_LEVEL: level,
            fmt.PROBLEM_UNIT: unit,
            fmt.PROBLEM_PLACE: place,
        }
        problems.append([row.get(h, "") for h in columns])
    wb.save(path)
    return path


def test_reminders_go_to_unreported_and_erroneous(season: dict[str, Path]) -> None:
    status = status_workbook(season["tmp"] / "年报汇总.xlsx")
    rows = read_status(status)
    assert [r.status for r in rows] == ["未报", "已报有错误", "已报且通过", "已报有提示"]
    drafts = season["tmp"] / "drafts"
    result = run(
        "--outbox", season["outbox"], "--year", YEAR, "--remind", "--status", status,
        "--drafts", drafts, "--deadline", "1月31日",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    parsed = {
        p.name: BytesParser(policy=policy.default).parsebytes(p.read_bytes())
        for p in drafts.iterdir()
    }
    assert sorted(parsed) == sorted(["群科镇（催报）.eml", "化隆回族自治县教育局（退回修改）.eml"])

    late = parsed["群科镇（催报）.eml"]
    assert "催报" in late["Subject"] and late["To"].addresses[0].addr_spec == "qunke@example.cn"
    assert [n for n, _ in attachments(late)] == ["群科镇.xlsx"]

    wrong = parsed["化隆回族自治县教育局（退回修改）.eml"]
    body = wrong.get_body(("plain",)).get_content()
    assert "表三!D5：合计不等于各项之和" in body and "封面!B2：年度与模板不符" in body
    assert "表二!C4" not in body  # a 提示 is no reason to send a file back
    assert attachments(wrong) == []


def test_status_without_needed_sheet_is_a_usage_error(season: dict[str, Path]) -> None:
    path = season["tmp"] / "other.xlsx"
    openpyxl.Workbook().save(path)
    result = run(
        "--outbox", season["outbox"], "--year", YEAR, "--remind", "--status", path,
        "--drafts", season["tmp"] / "d",
    )  # fmt: skip
    assert result.exit_code == 2 and "报送情况" in result.output


# ---------------------------------------------------------------- returns from e-mail


def b64_lines(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def raw_message(subject: bytes, parts: list[tuple[bytes, bytes]], sender: bytes) -> bytes:
    """A multipart message written by hand, each part given as (header lines, body bytes)."""
    head = (
        b"From: " + sender + b"\r\nTo: nianbao@example.cn\r\nSubject: " + subject + b"\r\n"
        b"Date: Mon, 19 Jan 2026 09:30:00 +0800\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
        b"--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "附件是我单位年报。".encode()
        + b"\r\n"
    )
    body = b"".join(b"--XYZ\r\n" + h + b"\r\n\r\n" + d + b"\r\n" for h, d in parts)
    return head + body + b"--XYZ--\r\n"


def gb_encoded_word(text: str, charset: str = "GB18030") -> bytes:
    return b"=?" + charset.encode() + b"?B?" + base64.b64encode(text.encode(charset)) + b"?="


def xlsx_part(name_params: bytes, data: bytes) -> tuple[bytes, bytes]:
    return (
        b"Content-Type: application/vnd.ms-excel" + name_params.replace(b"filename", b"name", 1)
        + b"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment"
        + name_params,
        b64_lines(data),
    )  # fmt: skip


def template_of(season: dict[str, Path], unit: UnitInfo) -> bytes:
    return roster_template_path(season["outbox"], unit).read_bytes()


def check_opens_as(att_name: str, data: bytes, tmp: Path, unit: UnitInfo) -> None:
    path = tmp / "x" / att_name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    assert read_unit(path).identity.unit == unit.name


def test_gb18030_encoded_word_name(season: dict[str, Path]) -> None:
    name = "群科镇年报（䶮）.xlsx"  # 䶮 exists in GB18030 but not in GBK
    params = b'; filename="' + gb_encoded_word(name) + b'"'
    raw = raw_message(
        gb_encoded_word("回复：年报", "GBK"),
        [xlsx_part(params, template_of(season, UNITS[0]))],
        gb_encoded_word("群科镇 王明", "GB2312") + b" <qunke@example.cn>",
    )
    path = season["tmp"] / "回复.eml"
    path.write_bytes(raw)
    [att] = extract_workbooks(path)
    assert (att.filename, att.message) == (name, "回复：年报")
    assert att.sender == "群科镇 王明 <qunke@example.cn>" and att.date == "2026-01-19 09:30"
    check_opens_as(att.filename, att.data, season["tmp"], UNITS[0])


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_rfc2231_and_raw_8bit_names(season: dict[str, Path], charset: str) -> None:
    name = "甘都镇政府信息公开工作年度报告.xlsx"
    quoted = "%" + name.encode(charset).hex("%").upper()
    rfc2231 = f"; filename*={charset}''{quoted}".encode()
    raw8bit = b'; filename="' + name.encode(charset) + b'"'  # old Foxmail and webmail send this
    data = template_of(season, UNITS[2])
    subject = b"=?utf-8?B?" + base64.b64encode("年报".encode()) + b"?="
    parts = [xlsx_part(rfc2231, data), xlsx_part(raw8bit, data)]
    raw = raw_message(subject, parts, b"g@example.cn")
    path = season["tmp"] / "m.eml"
    path.write_bytes(raw)
    found = extract_workbooks(path)
    assert [a.filename for a in found] == [name, name]
    assert all(a.data == data for a in found)


def test_two_workbooks_in_one_message_and_our_own_drafts(season: dict[str, Path]) -> None:
    msg = EmailMessage()
    msg["Subject"], msg["From"] = "两个单位的年报", "县教育局 <jiaoyu@example.cn>"
    msg.set_content("见附件")
    for unit in UNITS[:2]:
        msg.add_attachment(template_of(season, unit), *XLSX, filename=f"{unit.name}.xlsx")
    path = season["tmp"] / "two.eml"
    path.write_bytes(msg.as_bytes())
    found = extract_workbooks(path)
    assert [a.filename for a in found] == [f"{u.name}.xlsx" for u in UNITS[:2]]
    for att, unit in zip(found, UNITS[:2]):
        check_opens_as(att.filename, att.data, season["tmp"], unit)
    assert {a.message for a in found} == {"两个单位的年报"}


def test_mbox_with_two_messages(season: dict[str, Path]) -> None:
    messages = []
    for unit in UNITS[:2]:
        msg = EmailMessage()
        msg["Subject"], msg["From"] = f"{unit.name}年报", unit.email.split(";")[0]
        msg.set_content("From the township: see the attachment.\n")  # escaped as >From in mbox
        msg.add_attachment(template_of(season, unit), *XLSX, filename=f"{unit.name}.xlsx")
        text = msg.as_bytes().replace(b"\nFrom the", b"\n>From the")
        messages.append(b"From MAILER-DAEMON Mon Jan 19 09:30:00 2026\n" + text + b"\n")
    path = season["tmp"] / "收件箱.mbox"
    path.write_bytes(b"".join(messages))
    found = extract_workbooks(path)
    assert [(a.message, a.filename) for a in found] == [
        (f"{u.name}年报", f"{u.name}.xlsx") for u in UNITS[:2]
    ]
    for att, unit in zip(found, UNITS[:2]):
        check_opens_as(att.filename, att.data, season["tmp"], unit)


def test_broken_mail_gives_what_it_can(tmp_path: Path) -> None:
    cut = raw_message(b"cut", [xlsx_part(b'; filename="a.xlsx"', b"PK" * 100)], b"a@b.cn")
    path = tmp_path / "cut.eml"
    path.write_bytes(cut[: len(cut) - 40])  # cut off in the middle of the attachment
    contents = read_mail(path)
    assert [a.filename for a in contents.attachments] == ["a.xlsx"]

    (tmp_path / "notes.eml").write_bytes("这不是邮件\n只是一些文字".encode())
    with pytest.raises(FileProblem):
        extract_workbooks(tmp_path / "notes.eml")
    with pytest.raises(FileProblem):
        extract_workbooks(tmp_path / "missing.eml")
    before = sorted(p.name for p in tmp_path.iterdir())
    extract_workbooks(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # reading writes nothing


def test_too_many_parts_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nianbao.mail_extract as mx

    monkeypatch.setattr(mx, "MAX_PARTS", 5)
    parts = [xlsx_part(f'; filename="{n}.xlsx"'.encode(), b"UEs=") for n in range(20)]
    path = tmp_path / "many.eml"
    path.write_bytes(raw_message(b"many", parts, b"a@b.cn"))
    contents = read_mail(path)
    assert 0 < len(contents.attachments) < 5 and contents.problems


def test_reminders_from_a_real_collect_summary(
    season: dict[str, Path], make_return, layout
) -> None:
    from nianbao.collect import collect
    from nianbao.roster import read_roster
    from nianbao.summary import write_summary

    returned = season["tmp"] / "returned"
    returned.mkdir()
    good = make_return(UNITS[2].name, code=UNITS[2].code, name="good.xlsx")
    good.rename(returned / good.name)
    bad = make_return(UNITS[1].name, code=UNITS[1].code, name="bad.xlsx")
    cell = layout.fields["t3.new.natural"]  # one more new application breaks the carry-over sum
    wb = openpyxl.load_workbook(bad)
    target = wb[cell.sheet].cell(cell.row + 1, cell.col + 1)
    target.value = (target.value or 0) + 7
    wb.save(returned / bad.name)

    coll = collect(returned, roster=read_roster(season["roster"]), year=YEAR)
    status = write_summary(season["tmp"] / "年报汇总.xlsx", coll, year=YEAR)
    rows = {r.name: r for r in read_status(status)}
    assert rows[UNITS[0].name].status == "未报" and rows[UNITS[1].name].status == "已报有错误"
    assert rows[UNITS[1].name].problems and not rows[UNITS[2].name].problems

    batch = reminder_batch(list(rows.values()), season["outbox"], Letterhead(YEAR))
    assert {o.unit: o.kind for o in batch.messages} == {
        UNITS[0].name: "催报",
        UNITS[1].name: "退回修改",
    }
    assert batch.no_address == [UNITS[3].name]  # 未报 too, but the roster has no address
    body = next(o for o in batch.messages if o.kind == "退回修改").message.get_body(("plain",))
    place, text = rows[UNITS[1].name].problems[0]
    assert f"{place}：{text}" in body.get_content()
