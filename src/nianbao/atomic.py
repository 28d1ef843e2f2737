"""Atomic output: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


class OutputError(Exception):
    """An output file that cannot be written; the Chinese message names it and says why."""


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` and move tmp over `path` only when it succeeded."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".~nianbao-", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(_why(path, exc)) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are shared files
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(_why(path, exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _why(path: Path, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        reason = "没有写入权限，或该文件正在 Excel/WPS 中打开（请关闭后重试）"
    elif isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason = "路径中的某一级是文件而不是文件夹"
    elif isinstance(exc, IsADirectoryError):
        reason = "同名的文件夹已存在"
    else:
        reason = exc.strerror or type(exc).__name__
    return f"无法写入 {path}：{reason}。"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))
