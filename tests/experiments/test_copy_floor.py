"""experiments.copy_floor: memory-bound rows against a copy of their own bytes (the copies
replayed by a fake timer; the real one is a GPU test in tests/profiling/test_gpu.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from experiments import copy_floor
from experiments.bench_kernelbench import render, totals


def rows() -> list[dict]:
    """Rows as bench_kernelbench writes them (``roofline``: floor / best, as recorded)."""
    return [{**r, "x_eager": 1.0, "roofline": r["floor_ms"] / r["best_ms"]}
            if r["status"] == "ok" else r for r in [
        # recorded bytes: 128 MB moved, a copy of them takes 0.0369 ms
        {"task": "16_sum_dim1", "status": "ok", "floor_bound": "memory", "floor_ms": 0.0317,
         "floor_bytes": 134_217_728, "best_ms": 0.0420},
        # no floor_bytes (an older row): its floor time at today's 4000 GB/s
        {"task": "24_frobenius", "status": "ok", "floor_bound": "memory", "floor_ms": 0.0636,
         "best_ms": 0.1122},
        {"task": "34_matmul", "status": "ok", "floor_bound": "compute", "floor_ms": 2.69,
         "best_ms": 2.69},  # compute-bound: not a copy's business
        {"task": "45_lone_conv", "status": "refused"},
    ]]  # fmt: skip


def fake_copy(seen: list[int]):
    def copy(nbytes: int) -> float:
        seen.append(nbytes)
        return {134_217_728: 0.0369}.get(nbytes, nbytes / 3.5e9)  # 3.5 GB/s a ms at 254 MB

    return copy


def test_rows_are_set_against_a_copy_of_their_bytes() -> None:
    rs, seen = rows(), []
    done = copy_floor.add_copies(rs, fake_copy(seen), lambda: 4000.0)
    assert [r["task"] for r in done] == ["16_sum_dim1", "24_frobenius"]
    assert seen == [134_217_728, 254_400_000]  # 0.0636 ms at 4000 GB/s
    assert math.isclose(rs[0]["pct_copy"], 0.0369 / 0.0420)
    assert math.isclose(rs[1]["copy_ms"], 254_400_000 / 3.5e9)
    assert "copy_ms" not in rs[2] and "copy_ms" not in rs[3]
    c = copy_floor.counts(rs)
    # 16: 75 % of the floor but 88 % of its copy; 24: 57 % and 65 %
    assert c == {"memory_bound": 2, "at_target_floor": 0, "at_target_copy": 1}
    assert [r["copy_bytes"] for r in done] == seen
    table = copy_floor.render(done)
    assert list(table.columns[1].cells) == ["254", "134"]  # MB moved, lowest % copy first


def test_bench_kernelbench_shows_and_counts_the_copy() -> None:
    rs = rows()
    copy_floor.add_copies(rs, fake_copy([]), lambda: 4000.0)
    t = totals(rs)
    assert (t["memory_bound"], t["at_target_floor"], t["at_target_copy"]) == (2, 0, 1)
    table = render([{**r, "wall_s": 1.0} for r in rs])
    cells = list(table.columns[[c.header for c in table.columns].index("% copy")].cells)
    assert cells == ["88", "65", "-", "-"]


def test_write_adds_the_figures_to_the_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "kb.json"
    path.write_text(json.dumps({"rows": rows(), "totals": {"problems": 4}}))
    assert copy_floor.main([str(path)], copy=fake_copy([]), gbps=lambda: 4000.0) == 0
    assert "copy_ms" not in path.read_text()  # without --write the file stays as it was
    assert "of a copy of their bytes: 1" in capsys.readouterr().out
    assert copy_floor.main([str(path), "--write"], copy=fake_copy([]), gbps=lambda: 4000.0) == 0
    data = json.loads(path.read_text())
    assert data["totals"] == {"problems": 4, "memory_bound": 2, "at_target_floor": 0,
                              "at_target_copy": 1}  # fmt: skip
    assert math.isclose(data["rows"][0]["copy_ms"], 0.0369)


@pytest.mark.parametrize("text", [None, "not json", '{"no": "rows"}'])
def test_an_unreadable_table_is_one_line_and_exit_2(tmp_path: Path, capsys, text) -> None:
    path = tmp_path / "kb.json"
    if text is not None:
        path.write_text(text)
    assert copy_floor.main([str(path)], copy=fake_copy([]), gbps=lambda: 4000.0) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot read a bench_kernelbench table")


def test_without_a_gpu_it_says_so(tmp_path: Path, capsys) -> None:
    path = tmp_path / "kb.json"
    path.write_text(json.dumps({"rows": rows()}))
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert copy_floor.main([str(path)]) == 2
    assert "none is visible" in capsys.readouterr().err
