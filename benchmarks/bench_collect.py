"""Benchmark `nianbao collect` against a plain openpyxl loop and a raw python-calamine read.

    python benchmarks/bench_collect.py              # N = 100 and 1000
    python benchmarks/bench_collect.py --n 10000    # the province-scale case
    python benchmarks/bench_collect.py --n 1000 --runs 5 --roster-units 1000

Filled returns are generated once and cached under benchmarks/.cache/ (gitignored): a few
distinct filled workbooks are built with the template code, then N variants are written by
renaming the unit inside them (a zip rewrite, milliseconds per file).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import python_calamine as calamine
import xlsxwriter

from nianbao.form import load_form
from nianbao.form.layout import layout_for
from nianbao.template import Contents, UnitInfo, build_report_sheets, lock_structure, meta_fields

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
sys.path.insert(0, str(ROOT.parent / "tests"))
from conftest import consistent_figures, sample_texts  # noqa: E402  (the tests' own generator)

YEAR = 2025
DISTINCT = 20  # distinct figure sets; every return is one of them under its own unit name
PLACEHOLDER = "甲乙丙丁单位"


# ---------------------------------------------------------------- generating the returns


def filled_bytes(unit: str, seed: int) -> bytes:
    """A filled return as Excel would save it: values typed in, formulas with cached results."""
    form = load_form()
    values = consistent_figures(form, random.Random(seed))
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    info = UnitInfo(unit, category="乡镇")
    meta = meta_fields(form, YEAR, info, uuid.uuid4().hex)
    contents = Contents(values=values, texts=sample_texts(unit, values), locked=True)
    build_report_sheets(wb, form, layout_for(form), YEAR, info, meta, "", contents)
    wb.close()
    return lock_structure(buf.getvalue())


def renamed(parts: list[tuple[zipfile.ZipInfo, bytes]], unit: str) -> bytes:
    """The base workbook with the placeholder unit name replaced everywhere."""
    old, new = PLACEHOLDER.encode(), unit.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in parts:
            dst.writestr(info, data.replace(old, new) if old in data else data)
    return out.getvalue()


def returns_folder(n: int) -> Path:
    """N filled returns (cached): 单位00001.xlsx … with distinct unit names."""
    folder = CACHE / f"returns-{n}"
    done = CACHE / f"returns-{n}.done"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    bases = []
    for seed in range(DISTINCT):
        with zipfile.ZipFile(io.BytesIO(filled_bytes(PLACEHOLDER, seed))) as zf:
            bases.append([(i, zf.read(i)) for i in zf.infolist()])
    for i in range(1, n + 1):
        unit = f"单位{i:05d}"
        (folder / f"{unit}.xlsx").write_bytes(renamed(bases[i % DISTINCT], unit))
    done.touch()
    print(f"已生成 {n} 份回传文件（{time.perf_counter() - start:.1f} 秒）：{folder}", flush=True)
    return folder


def roster_file(units: int) -> Path:
    path = CACHE / f"roster-{units}.csv"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        rows = ["单位名称,单位代码,类别"]
        rows += [f"单位{i:05d},{i:05d},乡镇" for i in range(1, units + 1)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    return path


# ---------------------------------------------------------------- what is timed


def openpyxl_loop(paths: list[Path]) -> None:
    """The naive reader: open each workbook with openpyxl and read every value."""
    for path in paths:
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets:
            for _row in ws.iter_rows(values_only=True):
                pass
        wb.close()


def calamine_raw(paths: list[Path]) -> None:
    """The floor: python-calamine reads every sheet of each file, nothing else."""
    for path in paths:
        wb = calamine.CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()


def nianbao_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from nianbao.cli import app; app()", *args]


class TreeMemory:
    """Peak RSS of a process and all its descendants (a process pool included), sampled."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_rss(p) for p in _tree(self.pid)))
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                children = Path(f"/proc/{p}/task/{task}/children").read_text()
                todo += [int(c) for c in children.split()]
        except OSError:
            continue
    return out


def _rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


def run_cli(args: list[str]) -> tuple[float, int, float]:
    """Wall time, peak tree memory and CPU time (all processes) of one `nianbao …` run.

    CPU time does not depend on what else the machine runs; wall time does (on 2 cores, a
    test suite running beside the benchmark slows `collect` by half).
    """
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(nianbao_cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mem = TreeMemory(proc.pid)
    _, stderr = proc.communicate()
    elapsed = time.perf_counter() - start
    peak = mem.stop()
    if proc.returncode not in (0, 1):  # 1 = collected, but some unit incomplete
        raise RuntimeError(f"nianbao {' '.join(args)} 失败：{stderr.decode(errors='replace')}")
    return elapsed, peak, _children_cpu() - cpu


def _children_cpu() -> float:
    """User + system time of every finished child process and its own children (the pool)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


# ---------------------------------------------------------------- the report


@dataclass
class Row:
    n: int
    openpyxl: float
    calamine: float
    collect: float
    collect_peak: int
    collect_cpu: float
    openpyxl_note: str
    phases: dict[str, float]


def startup(runs: int = 5) -> float:
    """Interpreter start-up and the imports of `nianbao collect` (its --help)."""
    return statistics.median(run_cli(["collect", "--help"])[0] for _ in range(runs))


def phases(folder: Path) -> dict[str, float]:
    """Where collect's time goes, measured in this process (no interpreter start-up)."""
    import warnings

    from rich.console import Console

    from nianbao import cli_collect
    from nianbao.collect import collect
    from nianbao.summary import summary_bytes

    out: dict[str, float] = {}
    start = time.perf_counter()
    coll = collect(folder, year=YEAR)
    out["read+check"] = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary_bytes(coll, year=YEAR)
    out["summary"] = time.perf_counter() - start
    shown, cli_collect.console = cli_collect.console, Console(file=io.StringIO(), width=120)
    start = time.perf_counter()
    try:
        cli_collect.print_collection(coll)
    finally:
        cli_collect.console = shown
    out["terminal tables"] = time.perf_counter() - start
    return out


def bench_folder(n: int, runs: int, openpyxl_runs: int) -> Row:
    folder = returns_folder(n)
    paths = sorted(folder.glob("*.xlsx"))
    for p in paths:  # warm the page cache so that every contender reads from memory
        p.read_bytes()
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-") as tmp:
        out = Path(tmp) / "汇总.xlsx"
        cli = [
            run_cli(["collect", str(folder), "--out", str(out), "--year", str(YEAR)])
            for _ in range(runs)
        ]
        check_summary(out, n)
    cal = timed(lambda: calamine_raw(paths), runs)
    sample = paths[:1000]  # openpyxl on 10,000 files takes ten minutes: time 1,000, scale
    opx = [
        t * len(paths) / len(sample) for t in timed(lambda: openpyxl_loop(sample), openpyxl_runs)
    ]
    note = f"{openpyxl_runs} run" + (
        f", {len(sample)} files × {n // len(sample)}" if len(sample) < n else ""
    )
    row = Row(
        n,
        statistics.median(opx),
        statistics.median(cal),
        statistics.median(t for t, _, _ in cli),
        max(m for _, m, _ in cli),
        statistics.median(c for _, _, c in cli),
        note,
        phases(folder),
    )
    print(
        f"N={n}: openpyxl {row.openpyxl:.2f} s, calamine {row.calamine:.2f} s, "
        f"collect {row.collect:.2f} s（峰值内存 {row.collect_peak / 2**20:.0f} MB，"
        f"CPU {row.collect_cpu:.2f} s）",
        flush=True,
    )
    return row


def check_summary(path: Path, n: int) -> None:
    """The benchmark must time a real collection: the 明细 sheet lists every return."""
    wb = calamine.CalamineWorkbook.from_path(str(path))
    rows = [r for r in wb.get_sheet_by_name("明细").to_python()[2:] if r and r[0]]
    if len(rows) != n:
        raise RuntimeError(f"汇总「明细」只有 {len(rows)} 行，应为 {n} 行")


def bench_roster(units: int, runs: int) -> tuple[float, int]:
    roster = roster_file(units)
    times, peak = [], 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="nianbao-bench-") as tmp:
            args = ["template", "--year", str(YEAR), "--roster", str(roster), "--out", tmp]
            t, m, _ = run_cli(args)
            made = len(list(Path(tmp).glob("*.xlsx")))
            if made != units:
                raise RuntimeError(f"只生成了 {made} 个模板，应为 {units} 个")
        times.append(t)
        peak = max(peak, m)
    return statistics.median(times), peak


def table(
    rows: list[Row], roster: tuple[int, float, int] | None, runs: int, opx: int, start: float
) -> str:
    ms = 1000.0
    lines = [
        f"Median of {runs} runs (openpyxl: {opx}); {os.cpu_count()} cores; "
        f"Python {sys.version.split()[0]}; peak memory = the process and its workers together; "
        "CPU = user + system time of all its processes.",
        "",
        "| N | openpyxl loop | raw calamine | `nianbao collect` | ms/file (collect) "
        "| vs openpyxl | vs calamine | peak memory | CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.n:,} | {r.openpyxl:.2f} s ({r.openpyxl / r.n * ms:.1f} ms/file; "
            f"{r.openpyxl_note}) "
            f"| {r.calamine:.2f} s ({r.calamine / r.n * ms:.2f} ms/file) | {r.collect:.2f} s "
            f"| {r.collect / r.n * ms:.2f} | {r.openpyxl / r.collect:.1f}× faster "
            f"| {r.collect / r.calamine:.1f}× slower | {r.collect_peak / 2**20:.0f} MB "
            f"| {r.collect_cpu:.2f} s |"
        )
    lines += [
        "",
        f"Start-up (interpreter and the imports of `nianbao collect`): {start:.2f} s.",
        "",
        "Where `collect` spends its time (in-process, without interpreter start-up):",
        "",
        "| N | " + " | ".join(rows[0].phases) + " |",
        "|---:|" + "---:|" * len(rows[0].phases),
    ]
    for r in rows:
        lines.append(
            f"| {r.n:,} | "
            + " | ".join(f"{v:.2f} s ({v / r.n * ms:.2f} ms/file)" for v in r.phases.values())
            + " |"
        )
    if roster:
        units, t, peak = roster
        lines += [
            "",
            f"`nianbao template --roster` with {units:,} units: {t:.2f} s = "
            f"{t / units * ms:.1f} ms per unit (peak memory {peak / 2**20:.0f} MB).",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="returns per folder (repeatable)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--openpyxl-runs", type=int, default=1, help="it takes a minute per 1,000")
    ap.add_argument("--roster-units", type=int, default=1000, help="0 to skip")
    args = ap.parse_args(argv)
    sizes = args.n or [100, 1000]
    rows = []
    for n in sizes:
        rows.append(bench_folder(n, args.runs, args.openpyxl_runs))
    roster = None
    if args.roster_units:
        t, peak = bench_roster(args.roster_units, args.runs)
        roster = (args.roster_units, t, peak)
    start = startup()
    print()
    print(table(rows, roster, args.runs, args.openpyxl_runs, start))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
