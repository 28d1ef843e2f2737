"""Checking many files: the process pool gives exactly what the plain loop gives, in order."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest

from conftest import consistent_figures
from nianbao import parallel
from nianbao.check import HAS_ERRORS, HAS_HINTS, PASSED, UNREADABLE
from nianbao.collect import collect
from nianbao.form import Form
from nianbao.parallel import check_many


@pytest.fixture
def returns(make_return, form: Form, tmp_path: Path) -> list[Path]:
    """Passing, failing and unreadable files, as a folder of returns holds them."""
    paths = [make_return(f"乡镇{i}", seed=i, name=f"乡镇{i}.xlsx") for i in range(4)]
    broken = consistent_figures(form, random.Random(9))
    broken["t3.new.natural"] += 1  # the request balance of 表三 no longer holds
    paths.append(make_return("错误镇", values=broken, name="错误镇.xlsx"))
    cut = tmp_path / "下载中断.xlsx"
    cut.write_bytes(paths[0].read_bytes()[:3000])
    empty = tmp_path / "空文件.xlsx"
    empty.write_bytes(b"")
    text = tmp_path / "名单.xlsx"
    text.write_text("单位名称,联系人\n群科镇,张三\n", encoding="utf-8")
    return [*paths, cut, empty, text]


def both_ways(paths: list[Path], form: Form, **pool: int):
    names = [p.name for p in paths]
    serial = check_many(paths, names, form=form, expected_year=2025, workers=1)
    pooled = check_many(paths, names, form=form, expected_year=2025, workers=2, pool_from=0, **pool)
    return serial, pooled


def test_pool_gives_the_same_results_in_the_same_order(returns, form):
    serial, pooled = both_ways(returns, form, chunk=3)
    assert [r.name for r in pooled] == [p.name for p in returns]
    assert [r.to_dict() for r in pooled] == [r.to_dict() for r in serial]
    assert [r.report for r in pooled] == [r.report for r in serial]  # figures, cells, texts
    statuses = {r.status for r in serial}
    assert {HAS_ERRORS, UNREADABLE} <= statuses and statuses & {PASSED, HAS_HINTS}


def test_every_kind_of_result_crosses_a_process_boundary(returns, form):
    serial, _ = both_ways(returns[-4:], form)
    assert {r.status for r in serial} >= {HAS_ERRORS, UNREADABLE}
    for result in serial:
        assert pickle.loads(pickle.dumps(result)) == result


def test_progress_counts_files_as_chunks_finish(returns, form):
    calls: list[tuple[int, int, str]] = []
    names = [p.name for p in returns]
    check_many(
        returns,
        names,
        form=form,
        workers=2,
        pool_from=0,
        chunk=3,
        progress=lambda n, total, name: calls.append((n, total, name)),
    )
    done = [n for n, _, _ in calls]
    assert len(calls) == -(-len(returns) // 3)  # once per chunk
    assert done == sorted(set(done)) and done[-1] == len(returns)
    assert {total for _, total, _ in calls} == {len(returns)}
    assert {name for _, _, name in calls} <= set(names)


def test_small_batches_never_start_a_pool(returns, form, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started for a small batch")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    calls = []
    results = check_many(
        returns,
        [p.name for p in returns],
        form=form,
        progress=lambda n, total, name: calls.append(n),
    )
    assert len(results) == len(returns) and calls == list(range(1, len(returns) + 1))


def test_collect_is_the_same_with_the_pool(returns, form, tmp_path, monkeypatch):
    folder = tmp_path
    plain = collect(folder, form=form, year=2025)
    monkeypatch.setattr(parallel, "POOL_FROM", 0)
    pooled = collect(folder, form=form, year=2025)

    def seen(coll):
        return [(o.result.to_dict(), o.fate, o.unit) for o in coll.outcomes]

    assert len(plain.outcomes) == len(returns)
    assert seen(pooled) == seen(plain)
    assert pooled.totals == plain.totals
