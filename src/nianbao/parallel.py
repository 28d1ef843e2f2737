"""Check many files at once: a process pool for large folders, a plain loop for small ones."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TypedDict

from nianbao.check import FileResult, check_file
from nianbao.form import Form, load_form

Progress = Callable[[int, int, str], None]
POOL_FROM = 200  # below this, starting worker processes costs more than it saves
FORK_POOL_FROM = 50  # the same where workers are forked (Linux): they start in milliseconds
CHUNK = 32  # files per task: big enough to amortise the hand-over, small for a smooth bar


def check_many(
    paths: Sequence[Path],
    names: Sequence[str],
    *,
    form: Form | None = None,
    expected_year: int | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    pool_from: int | None = None,
    chunk: int | None = None,
) -> list[FileResult]:
    """check_file for every path, in the order given, over the cores when there are many."""
    form = form or load_form()
    workers = workers or usable_cores()
    context = _context()
    pool_from = POOL_FROM if pool_from is None else pool_from
    if context.get_start_method() == "fork":
        pool_from = min(pool_from, FORK_POOL_FROM)
    # Default chunks: at least four per worker, so that a short batch is shared out evenly.
    chunk = chunk or max(1, min(CHUNK, -(-len(paths) // (4 * workers))))
    with no_cyclic_gc():
        if workers < 2 or len(paths) < pool_from:
            return _serial(paths, names, form, expected_year, progress)
        try:
            return _pooled(paths, names, form, expected_year, progress, workers, chunk, context)
        except (BrokenProcessPool, OSError):  # no processes allowed, a worker killed, ...
            return _serial(paths, names, form, expected_year, progress)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cycle collector while results pile up (or while a summary of them is written).

    Thousands of results (acyclic, freed by reference counting) would otherwise be rescanned
    by every full collection: a third of the time of a large batch, a sixth of the summary of
    10,000 files. A checked file leaves about five cyclic objects behind; they are collected
    after the batch.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _serial(paths, names, form, expected_year, progress) -> list[FileResult]:
    results = []
    for n, (path, name) in enumerate(zip(paths, names), start=1):
        results.append(check_file(path, form=form, expected_year=expected_year, name=name))
        if progress:
            progress(n, len(paths), name)
    return results


class _Job(TypedDict, total=False):
    form: Form
    year: int | None


_job: _Job = {}  # in each worker: the form and year, received once


def _start_worker(form: Form, expected_year: int | None) -> None:
    """Keep one Form per worker, so that layout_for(form) is built once, not per chunk."""
    _job.update({"form": form, "year": expected_year})


def _check_chunk(chunk: list[tuple[Path, str]]) -> list[FileResult]:
    """Worker side: one task is a run of consecutive files (check_file never raises)."""
    form, year = _job["form"], _job["year"]
    return [check_file(p, form=form, expected_year=year, name=n) for p, n in chunk]


def _pooled(
    paths, names, form, expected_year, progress, workers: int, chunk: int, context: BaseContext
) -> list[FileResult]:
    """Chunks go to the pool; results are put back in order; the bar moves as chunks finish."""
    pairs = list(zip(paths, names))
    starts = range(0, len(pairs), chunk)
    results: list[FileResult | None] = [None] * len(pairs)
    done = 0
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(form, expected_year),
    ) as pool:
        futures: dict[Future[list[FileResult]], int] = {
            pool.submit(_check_chunk, pairs[s : s + chunk]): s for s in starts
        }
        for future in as_completed(futures):
            start = futures[future]
            checked = future.result()
            results[start : start + len(checked)] = checked
            done += len(checked)
            if progress:
                progress(done, len(pairs), checked[-1].name)
    return results  # type: ignore[return-value]  # every slot is filled above


def _context() -> BaseContext:
    """fork where it is safe (Linux, one thread: instant, nothing re-imported); else the default.

    A progress bar refreshes from a thread, and forking a threaded process can deadlock, so
    then (and on macOS/Windows) the platform's safe start method is used.
    """
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if sys.platform == "linux":
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["nianbao.check"])  # workers fork with the reader imported
        return ctx
    return multiprocessing.get_context()
