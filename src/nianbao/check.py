"""One file → checked result: read it, run every rule, never raise for user input."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nianbao.files import FileProblem, open_bytes
from nianbao.form import Form, load_form
from nianbao.issues import ERROR, Issue
from nianbao.reader import UnitReport, read_opened, read_unit
from nianbao.rules import evaluate

PASSED, HAS_ERRORS, HAS_HINTS, UNREADABLE = "通过", "有错误", "有提示", "无法读取"


@dataclass
class FileResult:
    path: Path
    name: str
    report: UnitReport | None = None
    issues: list[Issue] = field(default_factory=list)
    debug: str = ""  # traceback of an internal error, shown only with --debug

    @property
    def unit(self) -> str:
        return self.report.unit if self.report else ""

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def open_hints(self) -> list[Issue]:
        return [i for i in self.issues if not i.is_error and not i.explained]

    @property
    def status(self) -> str:
        if self.report is None:
            return UNREADABLE
        if self.errors:
            return HAS_ERRORS
        return HAS_HINTS if self.open_hints else PASSED

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.name,
            "unit": self.unit,
            "status": self.status,
            "sha256": self.report.sha256 if self.report else "",
            "issues": [i.to_dict() for i in self.issues],
        }


def file_issue(code: str, message: str, name: str) -> Issue:
    return Issue(code, ERROR, message, file=name)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """The files to check: a folder stands for every file below it; others are kept as given.

    An empty folder is kept as itself (check_file says it holds nothing), so nothing named on the
    command line disappears from the results.
    """
    expanded: list[Path] = []
    for path in map(Path, paths):
        found = _files_below(path) if path.is_dir() else [path]
        expanded += found or [path]
    return expanded


def _files_below(folder: Path) -> list[Path]:
    from nianbao.collect import find_files  # collect imports this module (and the mail reader)

    return find_files(folder)


def check_file(
    path: Path,
    *,
    form: Form | None = None,
    expected_year: int | None = None,
    previous: UnitReport | None = None,
    name: str | None = None,
) -> FileResult:
    """Read and validate one returned file; unreadable files give one file-level issue."""
    form = form or load_form()
    name = name or Path(path).name
    missing = _missing(Path(path), name)
    if missing is not None:
        return FileResult(Path(path), name, issues=[missing])
    return _checked(
        Path(path), name, lambda: read_unit(Path(path), form, name), form, expected_year, previous
    )


def _missing(path: Path, name: str) -> Issue | None:
    """The issue of a path that is no file to read: absent, or a folder with no file in it."""
    if path.is_dir():
        what = "其中没有可校验的文件" if not _files_below(path) else "不是年报文件"
        return file_issue("FILE_UNREADABLE", f"{name} 是文件夹，{what}。", name)
    if not path.exists():
        return file_issue("FILE_UNREADABLE", f"找不到文件 {name}，请检查路径是否正确。", name)
    return None


def check_bytes(
    raw: bytes,
    name: str,
    *,
    form: Form | None = None,
    expected_year: int | None = None,
    previous: UnitReport | None = None,
    origin: Path | None = None,
) -> FileResult:
    """The same for a file held in memory (an e-mail attachment); `origin` is where it came from."""
    form = form or load_form()
    return _checked(
        origin or Path(name),
        name,
        lambda: read_opened(open_bytes(raw), name, form),
        form,
        expected_year,
        previous,
    )


def _checked(
    path: Path,
    name: str,
    read: Callable[[], UnitReport],
    form: Form,
    expected_year: int | None,
    previous: UnitReport | None,
) -> FileResult:
    result = FileResult(path, name)
    try:
        result.report = read()
        result.issues = evaluate(
            result.report, form, expected_year=expected_year, previous=previous
        )
    except FileProblem as exc:
        result.issues = [file_issue(exc.code, exc.message, name)]
    except Exception as exc:  # a bug must not stop the batch: report it per file
        result.report = None
        result.issues = [
            file_issue(
                "INTERNAL", f"内部错误（{type(exc).__name__}），请用 --debug 查看详情并反馈。", name
            )
        ]
        result.debug = traceback.format_exc()
    return result
