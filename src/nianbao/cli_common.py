"""What every command shares: the two consoles, one-line Chinese errors, guarded commands, main().

Every user mistake ends in one line naming what is wrong: `错误：…` (exit 2) for an unwritable
output or a wrong option value, `用法错误：…` (exit 2) for a command line Click cannot parse, and
`内部错误（…）` (exit 1) for a bug, with the traceback only when --debug is given.
"""

from __future__ import annotations

import functools
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer._click import exceptions as click_errors  # Typer ≥ 0.29 (pinned) carries its own Click

from nianbao.atomic import OutputError

PROG = "nianbao"
FIRST_YEAR, LAST_YEAR = 2008, 2100  # 政府信息公开条例 took effect in 2008
console = Console()
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")
# Exceptions that carry an exit code or a usage error up to Typer: never an internal error.
_PASS_THROUGH = (typer.Exit, typer.Abort, click_errors.ClickException, KeyboardInterrupt)


def say(message: str, *, to: Console | None = None) -> None:
    """A plain line, wrapped only at the terminal edge (Chinese has no spaces to wrap at)."""
    (to or console).print(escape(message), soft_wrap=True, highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]提示：[/yellow]{escape(message)}", soft_wrap=True, highlight=False)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `错误：message` on stderr; the Exit to raise."""
    err.print(f"[red]错误：[/red]{escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def internal(exc: BaseException, debug: bool) -> typer.Exit:
    """One line for a bug (exit 1); its traceback only with --debug."""
    if debug:
        err.print(
            "".join(traceback.format_exception(exc)), markup=False, highlight=False, soft_wrap=True
        )
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = "" if debug else "请用 --debug 查看详情并反馈。"
    err.print(
        f"[red]内部错误（{type(exc).__name__}）：[/red]{escape(detail)}{'。' if detail else ''}"
        f"{escape(hint)}",
        soft_wrap=True,
        highlight=False,
    )
    return typer.Exit(1)


@contextmanager
def guard(debug: bool = False) -> Iterator[None]:
    """An unwritable output → `错误：…` exit 2; any other exception → `内部错误` exit 1."""
    try:
        yield
    except _PASS_THROUGH:
        raise
    except OutputError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        raise internal(exc, debug) from None


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """A command run inside guard(); its own `debug` option, when it has one, is honoured."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with guard(bool(kwargs.get("debug", False))):
            return command(*args, **kwargs)

    return run


def named(path: Path | str, message: str) -> str:
    """`message` starting with the file's name, unless it already names the file."""
    path = Path(path)
    if str(path) in message or path.name in message:
        return message
    return f"{path}：{message}"


def check_year(year: int | None) -> None:
    """Refuse a year no annual report can have (a typo such as 20255)."""
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        raise fail(
            f"年度 {year} 不对：请填写 {FIRST_YEAR} 到 {LAST_YEAR} 之间的四位年份，如 --year 2025。"
        )


def with_suffix(out: Path, suffix: str, what: str) -> Path:
    """`out` with the extension its content needs; a changed name is said, not done silently."""
    if out.suffix.lower() == suffix:
        return out
    fixed = out.with_suffix(suffix) if out.suffix else out.with_name(out.name + suffix)
    warn(f"{what}是 {suffix} 文件，输出文件名已由 {out} 改为 {fixed}。")
    return fixed


def run(app: typer.Typer, args: Sequence[str] | None = None) -> int:
    """Run `app` as the `nianbao` command; the exit code. Usage errors are answered in Chinese."""
    argv = list(sys.argv[1:] if args is None else args)
    command = typer.main.get_command(app)
    try:
        # args=None lets Typer expand wildcards itself on Windows (`nianbao check *.xlsx`)
        code = command.main(
            args=None if args is None else argv, prog_name=PROG, standalone_mode=False
        )
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        return 0
    except click_errors.UsageError as exc:
        err.print(escape(usage_message(exc, argv)), soft_wrap=True, highlight=False)
        return 2
    except click_errors.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err.print("已取消。", highlight=False)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # a bug outside any guarded command: still one line
        return internal(exc, "--debug" in argv).exit_code
    return code if isinstance(code, int) else 0


def usage_message(exc: click_errors.UsageError, argv: Sequence[str]) -> str:
    """`用法错误：缺少参数 FILES。运行 nianbao check --help 查看用法。`"""
    return f"用法错误：{_what(exc, argv)}。运行 {_command_path(exc, argv)} --help 查看用法。"


def _what(exc: click_errors.UsageError, argv: Sequence[str]) -> str:
    if isinstance(exc, click_errors.MissingParameter):
        return f"缺少{_param_name(exc.param, exc.param_hint)}"
    if isinstance(exc, click_errors.BadParameter):
        return _bad_value(exc, argv)
    if isinstance(exc, click_errors.NoSuchOption):
        maybe = "、".join(sorted(exc.possibilities or ()))
        return f"没有选项 {exc.option_name}" + (f"（是否想用 {maybe}？）" if maybe else "")
    if isinstance(exc, click_errors.BadOptionUsage):
        if "requires an argument" in exc.message:
            return f"选项 {exc.option_name} 后面缺少取值"
        return f"选项 {exc.option_name} 的用法不对"
    return _other(exc)


def _param_name(param: Any, hint: Any = None) -> str:
    """参数 FILES (an argument) or 选项 --year (an option)."""
    if param is None:
        return f"参数 {hint}" if hint else "参数"
    if param.param_type_name == "argument":
        return f"参数 {param.name.upper()}"
    opts = sorted(param.opts, key=lambda o: (not o.startswith("--"), o))
    return f"选项 {opts[0]}" if opts else f"选项 {param.name}"


_KINDS = (("integer", "应为整数"), ("number", "应为数字"), ("not one of", "不是可选的值之一"))


def _bad_value(exc: click_errors.BadParameter, argv: Sequence[str]) -> str:
    name = _param_name(exc.param, exc.param_hint)
    value = _value_given(exc.param, argv)
    kind = next((text for key, text in _KINDS if key in exc.message), "")
    shown = f"的值「{value}」" if value is not None else "的值"
    return f"{name} {shown}无效" + (f"，{kind}" if kind else "")


def _value_given(param: Any, argv: Sequence[str]) -> str | None:
    """What the user typed for an option (`--year abc` or `--year=abc`), when it can be found."""
    for opt in getattr(param, "opts", ()) if param is not None else ():
        if not opt.startswith("-"):
            continue
        for i, arg in enumerate(argv):
            if arg == opt and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(opt + "="):
                return arg[len(opt) + 1 :]
    return None


_NO_COMMAND = re.compile(r"No such command '(.+?)'")
_EXTRA = re.compile(r"unexpected extra arguments?(?:\(s\))? \((.*)\)", re.DOTALL)


def _other(exc: click_errors.UsageError) -> str:
    match = _NO_COMMAND.search(exc.message)
    if match:
        names = "、".join(_commands(exc.ctx))
        return f"没有命令 {match.group(1)}" + (f"（可用的命令：{names}）" if names else "")
    match = _EXTRA.search(exc.message)
    if match:
        return f"多余的参数：{match.group(1)}"
    return f"命令行有误（{exc.format_message()}）"


def _commands(ctx: Any) -> list[str]:
    if ctx is None or not hasattr(ctx.command, "list_commands"):
        return []
    return list(ctx.command.list_commands(ctx))


def _command_path(exc: click_errors.UsageError, argv: Sequence[str]) -> str:
    """`nianbao check`: from the context, else the first word of the command line."""
    ctx = exc.ctx
    if ctx is not None and ctx.parent is not None:
        return ctx.command_path
    first = next((a for a in argv if not a.startswith("-")), None)
    known = _commands(ctx) if ctx is not None else []
    if first and (first in known or (ctx is None and re.fullmatch(r"[a-z_]+", first))):
        return f"{PROG} {first}"
    return PROG
