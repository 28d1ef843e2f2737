"""The code stays lint-clean, formatted and type-checked (ruff and mypy, pinned in [test])."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks", "samples"]

needs_ruff = pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason='ruff 未安装（pip install -e ".[test]" 会安装）',
)
needs_mypy = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason='mypy 未安装（pip install -e ".[test]" 会安装）',
)


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([exe, *args, *PATHS], cwd=ROOT, capture_output=True, text=True)


@needs_ruff
def test_ruff_finds_nothing() -> None:
    result = ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_ruff
def test_the_code_is_formatted() -> None:
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_mypy
def test_mypy_finds_nothing() -> None:
    # Files and options come from [tool.mypy] in pyproject.toml.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
