"""`nianbao mail`: parse options, call nianbao.mail, print with Rich. No logic of its own."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from nianbao.cli_common import check_year, console, err, fail, guarded, say, warn
from nianbao.mail import (
    Batch,
    Letterhead,
    MailError,
    Outgoing,
    SendReport,
    notice_batch,
    parse_smtp,
    read_status,
    reminder_batch,
    send_all,
    unknown_placeholders,
    write_drafts,
)
from nianbao.roster import RosterError, read_roster
from nianbao.template import UnitInfo

PASSWORD_ENV = "NIANBAO_SMTP_PASSWORD"


@guarded
def mail(
    outbox: Annotated[
        Path,
        typer.Option(
            "--outbox", help="模板所在文件夹（nianbao template 的输出），发送记录也存在这里"
        ),
    ],
    year: Annotated[int, typer.Option("--year", help="报告年度，如 2025")],
    roster: Annotated[
        Path | None, typer.Option("--roster", help="单位名单 .xlsx/.csv（含邮箱列）")
    ] = None,
    drafts: Annotated[
        Path | None, typer.Option("--drafts", help="把邮件写成 .eml 草稿存到此文件夹")
    ] = None,
    deadline: Annotated[
        str, typer.Option("--deadline", help="报送截止日期，如 2026年1月20日")
    ] = "",
    from_name: Annotated[str, typer.Option("--from-name", help="发件单位名称（署名）")] = "",
    sender: Annotated[str, typer.Option("--from", help="发件邮箱地址")] = "",
    reply_to: Annotated[str, typer.Option("--reply-to", help="接收报表的回复邮箱")] = "",
    body_template: Annotated[
        Path | None,
        typer.Option("--body-template", help="邮件正文模板文件（见 templates/ 文件夹）"),
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="通过 SMTP 发送")] = False,
    smtp: Annotated[str, typer.Option("--smtp", help="SMTP 服务器 HOST:PORT")] = "",
    ssl: Annotated[bool, typer.Option("--ssl", help="使用 SSL 直连（通常为 465 端口）")] = False,
    starttls: Annotated[
        bool, typer.Option("--starttls", help="使用 STARTTLS（通常为 587 端口）")
    ] = False,
    smtp_user: Annotated[str, typer.Option("--smtp-user", help="SMTP 登录用户名")] = "",
    force: Annotated[bool, typer.Option("--force", help="已发送过的也重新发送")] = False,
    interval: Annotated[float, typer.Option("--interval", help="每封邮件之间暂停的秒数")] = 2.0,
    remind: Annotated[
        bool, typer.Option("--remind", help="催报：只发给未报或有错误的单位")
    ] = False,
    status: Annotated[
        Path | None, typer.Option("--status", help="nianbao collect 生成的汇总表")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="显示内部错误的详细信息")] = False,
) -> None:
    """按名单给各单位发送（或写成草稿）年报通知和模板；--remind 催报、退回修改。"""
    check_year(year)
    if drafts is None and not send:
        raise fail("请指定 --drafts 文件夹（生成草稿）或 --send（直接发送）。")
    if interval < 0:
        raise fail("--interval 不能为负数。")
    head = Letterhead(year, sender or _address_of(smtp_user), from_name, reply_to, deadline)
    try:
        if send:
            _check_send_options(smtp, head)
        server = (
            parse_smtp(smtp, implicit_tls=ssl, starttls=starttls, user=smtp_user) if send else None
        )
        batch = _batch(outbox, head, roster, _body(body_template), remind, status)
    except (MailError, RosterError) as exc:
        raise fail(str(exc)) from None
    _show_batch(batch, outbox)
    if drafts is not None:
        paths = write_drafts(batch.messages, drafts)
        say(f"已写出 {len(paths)} 封邮件草稿，保存在 {drafts}")
    if server is None or not batch.messages:
        return
    password = _password() if smtp_user else ""
    try:
        report = send_all(
            batch.messages,
            outbox,
            server,
            password,
            force=force,
            interval=interval,
            on_sent=lambda o: say(f"已发送：{_who(o)}"),
        )
    except MailError as exc:
        raise fail(str(exc)) from None
    _show_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _check_send_options(smtp: str, head: Letterhead) -> None:
    if not smtp:
        raise MailError(
            "使用 --send 时请用 --smtp 指定邮件服务器，例如 --smtp smtp.163.com:465 --ssl。"
        )
    if not head.from_addr:
        raise MailError("使用 --send 时请用 --from 指定发件邮箱地址。")


def _address_of(user: str) -> str:
    return user if "@" in user else ""


def _body(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise MailError(f"无法读取正文模板 {path}。") from exc
    except UnicodeDecodeError:
        text = path.read_bytes().decode("gb18030", "replace")  # Notepad's ANSI on Chinese Windows
    unknown = unknown_placeholders(text)
    if unknown:
        names = "、".join("{" + u + "}" for u in unknown)
        warn(f"正文模板中的 {names} 不是可用的占位符，将原样保留。")
    return text


def _batch(
    outbox: Path,
    head: Letterhead,
    roster: Path | None,
    body: str | None,
    remind: bool,
    status: Path | None,
) -> Batch:
    units: tuple[UnitInfo, ...] = read_roster(roster).units if roster is not None else ()
    if remind:
        if status is None:
            raise MailError("使用 --remind 时请用 --status 指定 nianbao collect 生成的汇总表。")
        return reminder_batch(read_status(status), outbox, head, body, units)
    if roster is None:
        raise MailError("请用 --roster 指定单位名单（含「邮箱」列）。")
    batch = notice_batch(units, outbox, head, body)
    if batch.missing_template:
        names = "、".join(batch.missing_template)
        raise MailError(
            f"文件夹 {outbox} 中没有这些单位的模板：{names}。"
            f"请先运行 nianbao template --roster {roster} --out {outbox}。"
        )
    return batch


def _show_batch(batch: Batch, outbox: Path) -> None:
    if batch.no_address:
        console.print(
            f"[yellow]以下 {len(batch.no_address)} 个单位没有可用的邮箱，未生成邮件：[/yellow]"
            + escape("、".join(batch.no_address)),
            soft_wrap=True,
        )
    say(f"共 {len(batch.messages)} 封邮件。")


def _password() -> str:
    return os.environ.get(PASSWORD_ENV) or typer.prompt("SMTP 密码（或授权码）", hide_input=True)


def _show_report(report: SendReport) -> None:
    if report.skipped:
        say(
            f"{len(report.skipped)} 封此前已发送过（见发送记录），本次未重发；"
            "如需重发请加 --force。"
        )
    say(f"本次发送成功 {len(report.sent)} 封。")
    for out, reason in report.failed:
        err.print(f"[red]发送失败：[/red]{escape(f'{_who(out)}：{reason}')}", soft_wrap=True)
    if report.aborted:
        fail(report.aborted)
        if report.unsent:
            names = "、".join(o.unit for o in report.unsent)
            say(f"尚未发送：{names}。问题解决后再次运行即可，已发送的不会重发。", to=err)


def _who(out: Outgoing) -> str:
    return f"{out.unit} <{out.address}>"
