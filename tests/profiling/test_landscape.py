"""Landscape files: round trip, samples, resumable appends, refusal of foreign files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from profiling.hardware import GpuFacts
from profiling.landscape import (
    FORMAT,
    LandscapeError,
    LandscapeHeader,
    LandscapeWriter,
    compact,
    landscape_path,
    load_landscape,
    source_hash,
)
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.probes.counters import Counters


def header(**kw) -> LandscapeHeader:
    base = dict(
        task="softmax", size="default", kind="softmax", device="cuda",
        gpu=GpuFacts(name="NVIDIA H200", sm_count=132), realizer="offline",
        realizer_version="abc", reference_hash="r" * 16, mode="depth 1",
    )
    return LandscapeHeader(**{**base, **kw})


COUNTERS = Counters(launches=1, duration_ns=5e5, dram_pct=81.0)  # typed hardware counters


def ok(ms: float, wall: float = 1.5) -> Measurement:
    t = Timing(ms, ms * 0.9, ms * 1.1, 50)
    return Measurement(Status.OK, shapes=(ShapeResult("default", t, Timing(1.0, 0.9, 1.1, 50)),),
                       counters=COUNTERS, device="NVIDIA H200", trials=5, wall_s=wall)


@pytest.mark.parametrize("name", ["l.jsonl", "l.jsonl.gz"])
def test_round_trip_keeps_measurements_samples_and_header(tmp_path, name):
    path = tmp_path / name
    with LandscapeWriter(path, header()) as w:
        w.add("a" * 16, ok(0.5), 1, ("tiling/x",))
        w.add("a" * 16, ok(0.52), 1, ("tiling/x",))
        w.add("b" * 16, Measurement.failure(Status.INCORRECT, "wrong", wall_s=0.7), 2, ("tiling/x", "f/y"))
    land = load_landscape(path)
    assert land.header == header()
    assert len(land) == 2 and "a" * 16 in land
    a = land.get("a" * 16)
    assert [m.runtime_ms for m in a.samples] == [0.5, 0.52]
    assert a.samples[0].counters == COUNTERS and a.eval_seconds == pytest.approx(1.5)
    assert a.depth == 1 and a.chain == ("tiling/x",) and a.best_ms == 0.5
    b = land.get("b" * 16)
    assert b.samples[0].status is Status.INCORRECT and b.best_ms is None and land.max_depth == 2


def test_compact_drops_derived_and_empty_fields():
    d = compact(ok(0.5))
    assert "speedup" not in d and "runtime_ms" not in d and "error" not in d
    assert Measurement.from_dict(d) == ok(0.5)


@pytest.mark.parametrize("name", ["l.jsonl", "l.jsonl.gz"])
def test_reopening_appends_and_a_partial_last_line_is_ignored(tmp_path, name):
    path = tmp_path / name
    with LandscapeWriter(path, header()) as w:
        w.add("a" * 16, ok(0.5))
    if name.endswith(".jsonl"):
        with open(path, "a") as f:
            f.write('{"hash": "cut')  # a recording killed mid-line
    with LandscapeWriter(path, header(mode="depth 2")) as w:
        assert w.existing is not None and len(w.existing) == 1
        w.add("b" * 16, ok(0.4))
    land = load_landscape(path)
    assert set(land.entries) == {"a" * 16, "b" * 16}
    assert land.header.mode == "depth 1"  # the first recording's header stays


def test_a_writer_refuses_a_file_of_another_task_or_gpu(tmp_path):
    path = tmp_path / "l.jsonl"
    LandscapeWriter(path, header()).close()
    with pytest.raises(LandscapeError, match="another landscape"):
        LandscapeWriter(path, header(task="rmsnorm"))
    with pytest.raises(LandscapeError, match="recorded on NVIDIA H200"):
        LandscapeWriter(path, header(gpu=GpuFacts(name="NVIDIA H100")))


def test_foreign_versions_and_missing_files_are_one_line_errors(tmp_path):
    with pytest.raises(LandscapeError, match="no landscape file"):
        load_landscape(tmp_path / "nope.jsonl")
    p = tmp_path / "v.jsonl"
    p.write_text(json.dumps({"format": FORMAT, "version": 99, "header": {}}) + "\n")
    with pytest.raises(LandscapeError, match="version 99"):
        load_landscape(p)
    p.write_text('{"something": "else"}\n')
    with pytest.raises(LandscapeError, match="not a kernel-bandit landscape"):
        load_landscape(p)
    g = tmp_path / "bad.jsonl.gz"
    g.write_bytes(b"not gzip at all")
    with pytest.raises(LandscapeError, match="gzip"):
        load_landscape(g)


def test_a_truncated_gzip_recording_keeps_its_flushed_lines(tmp_path):
    path = tmp_path / "l.jsonl.gz"
    w = LandscapeWriter(path, header())
    w.add("a" * 16, ok(0.5))
    w._f.flush()
    data = path.read_bytes()  # flushed but never closed: no gzip trailer
    w.close()
    (tmp_path / "cut.jsonl.gz").write_bytes(data)
    assert set(load_landscape(tmp_path / "cut.jsonl.gz").entries) == {"a" * 16}
    assert gzip.decompress(path.read_bytes())  # the closed one is a whole gzip file


def test_check_task_and_paths():
    from profiling.landscape import Landscape

    land = Landscape(header(), {})
    land.check_task("softmax", "default")
    with pytest.raises(LandscapeError, match="not 'softmax' at size 'smoke'"):
        land.check_task("softmax", "smoke")
    assert landscape_path(Path("/x"), "softmax") == Path("/x/softmax.jsonl")
    assert landscape_path(Path("/x"), "softmax", "rows=8,dim=64").name == "softmax@rows=8,dim=64.jsonl"


def test_source_hash_ignores_trailing_whitespace_and_is_the_frontiers():
    from bandit.frontier import source_hash as frontier_hash

    assert source_hash("a = 1  \n\n") == source_hash("\na = 1")
    assert source_hash("a = 1") != source_hash("a = 2")
    assert frontier_hash is source_hash
