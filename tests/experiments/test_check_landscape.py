"""check_landscape: re-derive a landscape's recorded chains with today's realizer, tell a
cosmetic realizer change (restampable) from one that changes kernels (stale), restamp."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from experiments.check_landscape import main
from profiling.landscape import load_landscape, rewrite_header
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.factory import build_realizer
from strategies.space import Node, SpaceWalker, realizer_version
from tests.fakes.landscapes import synthetic_landscape, synthetic_measurement

DECLINED = (
    "pipelining/stages_up"  # the realizer writes nothing for it at the softmax root (no loop)
)


@pytest.fixture(scope="module")
def task():
    return load_task("softmax", "smoke", TASKS_DIR)


@pytest.fixture(scope="module")
def current(task):
    return realizer_version(build_realizer("offline", {}))


@pytest.fixture(scope="module")
def base(task, current, tmp_path_factory) -> Path:
    """A landscape recorded with the real realizer: every kernel within one move, and the
    children of one of them, stamped with the current realizer version."""
    path = tmp_path_factory.mktemp("l") / "softmax@smoke.jsonl"
    land = synthetic_landscape(task, path, depth=1)
    walker = SpaceWalker(
        build_realizer("offline", {}), task, load_catalog().runnable("softmax", "cuda")
    )
    parent = next(
        n for n in walker.children(walker.root) if n.chain == ("tiling/rows_per_program",)
    )
    lines = _lines(path)
    for child in walker.children(parent)[:3]:
        lines.append(_entry(child))
    _write(path, lines)
    rewrite_header(path, realizer_version=current)
    assert len(load_landscape(path)) == len(land) + 3
    return path


def _entry(node: Node, depth: int | None = None) -> dict:
    m = synthetic_measurement(node.chain, node.hash)
    return {
        "hash": node.hash,
        "depth": node.depth if depth is None else depth,
        "chain": list(node.chain),
        "m": json.loads(json.dumps(m.to_dict())),
    }


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: Path, lines: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n" for obj in lines)
    )


def _check(path: Path, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "check.json"
    rc = main([str(path), "--json", str(out), *extra])
    (row,) = json.loads(out.read_text())
    return rc, row


def _copy(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(base, tmp_path / base.name))


def test_an_unchanged_landscape_is_current(base, current, tmp_path, capsys):
    rc, row = _check(base, tmp_path)
    assert rc == 0 and row["verdict"] == "current"
    assert row["same"] == row["kernels"] == len(load_landscape(base)) >= 10
    assert row["differs"] == row["masked"] == row["orphan"] == row["tune"] == 0
    assert row["recorded_version"] == row["current_version"] == current
    assert "current" in capsys.readouterr().out


def test_another_version_writing_the_same_kernels_is_restamped_header_only(
    base, current, tmp_path, capsys
):
    path = _copy(base, tmp_path)
    rewrite_header(path, realizer_version="0ldversion00", note="recorded for a test")
    before = path.read_bytes()
    rc, row = _check(path, tmp_path)
    assert rc == 0 and row["verdict"] == "restampable" and not row["restamped"]
    assert path.read_bytes() == before  # only --restamp writes
    rc, row = _check(path, tmp_path, "--restamp")
    assert rc == 0 and row["restamped"]
    after = path.read_bytes()
    assert after.partition(b"\n")[2] == before.partition(b"\n")[2]  # the body, byte for byte
    old, new = (json.loads(b.partition(b"\n")[0])["header"] for b in (before, after))
    assert new["realizer_version"] == current
    assert new["note"].startswith("recorded for a test; restamped 0ldversion00->" + current)
    assert f"{row['same']} same, 0 masked" in new["note"]
    assert {k: v for k, v in new.items() if k not in ("realizer_version", "note")} == {
        k: v for k, v in old.items() if k not in ("realizer_version", "note")
    }
    assert not list(tmp_path.glob(".*.tmp"))
    assert _check(path, tmp_path)[1]["verdict"] == "current"
    assert "restamped 0ldversion00->" in capsys.readouterr().out


def test_restamping_again_keeps_one_line_from_the_recorded_version(base, current, tmp_path):
    path = _copy(base, tmp_path)
    rewrite_header(path, realizer_version="0ldversion00", note="recorded for a test")
    _check(path, tmp_path, "--restamp")
    rewrite_header(path, realizer_version="midversion00")  # the code changed once more
    _check(path, tmp_path, "--restamp")
    note = json.loads(path.read_bytes().partition(b"\n")[0])["header"]["note"]
    assert note.startswith("recorded for a test; restamped 0ldversion00->" + current)
    assert note.count("restamped") == 1 and "midversion00" not in note


def test_a_move_that_writes_another_source_makes_the_file_stale_and_never_restamped(
    base, tmp_path, capsys
):
    path = _copy(base, tmp_path)
    lines = _lines(path)
    lines[0]["header"]["realizer_version"] = "0ldversion00"
    moved = next(o for o in lines[1:] if o["chain"] == ["tiling/rows_per_program"])
    moved["hash"] = "0123456789abcdef"  # the move now writes another source than recorded
    _write(path, lines)
    before = path.read_bytes()
    rc, row = _check(path, tmp_path, "--restamp")
    assert rc == 1 and row["verdict"] == "stale" and not row["restamped"]
    assert row["differs"] == 1 and row["orphan"] == 3  # its recorded children hang under it
    assert path.read_bytes() == before
    (lost,) = row["lost"]
    assert lost["chain"] == ["tiling/rows_per_program"] and lost["orphans"] == 3
    out = capsys.readouterr().out
    assert "stale (not restamped)" in out and "not restamped (1 stale" in out


def test_moves_that_write_nothing_now_are_masked_and_tuning_kernels_counted_apart(
    base, task, current, tmp_path
):
    path = _copy(base, tmp_path)
    lines = _lines(path)
    lines[0]["header"]["realizer_version"] = "0ldversion00"
    root = SpaceWalker(build_realizer("offline", {}), task, ()).root
    declined = Node("# gone", "aaaaaaaaaaaaaaa1", 1, (DECLINED,))
    retired = Node("# gone", "aaaaaaaaaaaaaaa2", 1, ("tiling/retired_strategy",))
    below = Node("# gone", "aaaaaaaaaaaaaaa3", 2, (DECLINED, "tiling/rows_per_program"))
    tuned = Node("# tuned", "aaaaaaaaaaaaaaa4", -1)
    lines += [_entry(declined), _entry(retired), _entry(below), _entry(tuned, depth=-1)]
    _write(path, lines)
    assert root.hash == lines[0]["header"]["reference_hash"]
    rc, row = _check(path, tmp_path)
    assert rc == 0 and row["verdict"] == "restampable"
    assert row["masked"] == 2 and row["orphan"] == 1 and row["tune"] == 1 and row["differs"] == 0
    assert row["same"] == row["kernels"] - 4
    masked = {tuple(x["chain"]): x for x in row["lost"]}
    assert set(masked) == {(DECLINED,), ("tiling/retired_strategy",)}
    assert masked[(DECLINED,)]["orphans"] == 1
    ms = [x["median_ms"] for x in row["lost"] if x["median_ms"] is not None]
    assert ms == sorted(ms)  # fastest first


def test_user_errors_are_one_line_exit_2(base, tmp_path, capsys):
    assert main([str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no landscape file") and "\n" not in err
    path = _copy(base, tmp_path)
    rewrite_header(path, task="no_such_task")
    assert main([str(path), "--tasks", str(TASKS_DIR)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no_such_task" in err and "\n" not in err


def test_rewrite_header_of_a_gzipped_landscape_keeps_its_lines(base, tmp_path):
    path = tmp_path / "l.jsonl.gz"
    path.write_bytes(gzip.compress(base.read_bytes()))
    rewrite_header(path, realizer_version="x")
    text = gzip.decompress(path.read_bytes())
    assert text.partition(b"\n")[2] == base.read_bytes().partition(b"\n")[2]
    assert load_landscape(path).header.realizer_version == "x"


def test_replay_of_another_realizer_version_points_at_the_check(base, task, tmp_path):
    import dataclasses

    from experiments.evaluation import _replay_notes
    from profiling.replay import ReplayEvaluator

    land = load_landscape(base)
    old = dataclasses.replace(
        land, header=dataclasses.replace(land.header, realizer_version="0ld", synthetic=False)
    )
    notes = _replay_notes(ReplayEvaluator(old), build_realizer("offline", {}), task)
    (warning,) = [n for n in notes if "realizer version 0ld" in n]
    assert f"python -m experiments.check_landscape {base}" in warning
    now = dataclasses.replace(land, header=dataclasses.replace(land.header, synthetic=False))
    assert not [
        n
        for n in _replay_notes(ReplayEvaluator(now), build_realizer("offline", {}), task)
        if "check_landscape" in n
    ]
