from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from experiments.ablation_hardware import (
    SharedEvaluator,
    landscape_files,
    landscape_header,
    main,
    one_run,
    to_95,
)
from profiling.evaluator import EvalSettings, WorkerEvaluator, reference_candidate_source
from profiling.hardware import GpuFacts
from profiling.landscape import LandscapeWriter, load_landscape, source_hash
from profiling.measurement import Measurement
from profiling.probes.base import ProbeReport
from profiling.probes.registry import ProbeSettings
from profiling.replay import ReplayEvaluator
from profiling.tasks import Task, load_task
from strategies.graph.realizer import GraphRealizer
from strategies.space import realizer_version
from tests.fakes.landscapes import PROFILE_S, synthetic_counters, synthetic_landscape


def test_iterations_to_95_percent() -> None:
    assert to_95([1.0, 1.5, 1.9, 2.0], 2.0) == 3
    assert to_95([1.0, 1.2], 2.0) is None


def test_bad_config_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--configs", "hucb,magic"]) == 2
    assert "unknown config 'magic'" in capsys.readouterr().err


@pytest.mark.slow
def test_interpreter_dry_run_records_a_landscape_that_replays_the_same_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Live (here the Triton interpreter) with ``--landscape FOLDER``: a real landscape file
    per task, resumed by the next run (nothing measured again), replayed by ``--replay
    FOLDER`` (or ``--replay --landscape FILE``) into the same table."""
    land, out = tmp_path / "landscapes", tmp_path / "table.json"
    common = ["--tasks", "softmax", "--size", "smoke", "--seeds", "1", "--iterations", "2",
              "--configs", "hucb+hw,random", "--json", str(out)]
    live = [*common, "--device", "interpret", "--landscape", str(land)]
    assert main(live) == 0
    rows = json.loads(out.read_text())
    assert [r["config"] for r in rows] == ["hucb+hw", "random"]
    assert all(r["best_speedup_mean"] > 0 for r in rows)
    recorded = load_landscape(land / "softmax@smoke.jsonl")
    h = recorded.header
    assert (h.task, h.size, h.device, h.realizer) == ("softmax", "smoke", "interpret", "offline")
    assert h.settings["trials"] == 2 and h.settings["baseline_compile"] is False
    assert h.realizer_version and h.reference_hash in recorded  # the reference, measured first
    assert len(recorded) >= 2  # the reference and at least one kernel
    capsys.readouterr()
    assert main(live) == 0  # the second time every kernel comes from the landscape
    assert "softmax: 0 kernels measured" in capsys.readouterr().out
    assert json.loads(out.read_text()) == rows
    assert len(load_landscape(land / "softmax@smoke.jsonl")) == len(recorded)
    assert main([*common, "--replay", str(land)]) == 0
    assert json.loads(out.read_text()) == rows
    assert "0 not recorded" in capsys.readouterr().out
    assert main([*common, "--replay", "--landscape", str(land / "softmax@smoke.jsonl")]) == 0
    assert json.loads(out.read_text()) == rows


class ProfilingWorker(WorkerEvaluator):
    """The GPU worker's part the ablation uses, without a GPU or a subprocess: measurements
    from a synthetic landscape, profiles with its made-up counters (DRAM saturated on about
    a third of the kernels)."""

    def __init__(self, replay: ReplayEvaluator) -> None:
        super().__init__(EvalSettings(device="interpret"), probes=ProbeSettings(names=()))
        self.replay, self.device = replay, replay.device
        self.profiles = 0

    def evaluate(self, task: Task, source: str) -> Measurement:
        return self.replay.evaluate(task, source)

    def profile(self, task: Task, source: str, reference: bool = False) -> ProbeReport:
        self.profiles += 1
        m = synthetic_counters(self.replay.evaluate(task, source), source_hash(source))
        return ProbeReport(counters=m.counters, seconds=PROFILE_S)

    def gpu_facts(self) -> GpuFacts:
        return self.replay.gpu_facts()


def test_live_runs_record_measurements_and_counters_that_replay_the_same_runs(
    tmp_path: Path,
) -> None:
    """What a live run measures and profiles goes into a real landscape (through
    LandscapeWriter, with recording's header fields); a resumed run measures and profiles
    nothing again, and replaying the file gives the live runs' curves and masked rounds."""
    task = load_task("softmax", None, TASKS_DIR)
    source = ReplayEvaluator(synthetic_landscape(task, tmp_path / "synthetic.jsonl", depth=2),
                             noise="none")
    worker = ProfilingWorker(source)
    path = tmp_path / "out" / "softmax.jsonl"
    header = landscape_header(task, worker, EvalSettings(device="cuda", trials=2), "test run")
    with LandscapeWriter(path, header) as writer:
        ev = SharedEvaluator.resuming(worker, writer)
        live = [one_run(task, ev, c, seed, 10) for c in ("hucb+hw", "hucb") for seed in (0, 1)]
    assert worker.profiles > 0 and sum(r.masked_rounds for r in live[:2]) > 0
    land = load_landscape(path)
    assert land.header.realizer_version == realizer_version(GraphRealizer())
    assert land.header.reference_hash == source_hash(reference_candidate_source(task))
    assert land.header.device == "cuda" and "device" not in land.header.settings
    assert set(land.entries) == set(ev.measured)  # every kernel measured, nothing else
    assert land.entries[land.header.reference_hash].depth == 0
    with_counters = {h for h, e in land.entries.items() if any(m.counters for m in e.samples)}
    assert with_counters and with_counters == {h for h, p in ev.profiled.items() if p.counters is not None}

    before = (worker.profiles, len(land))
    with LandscapeWriter(path, header) as writer:  # a resume: all of it served from the file
        again = SharedEvaluator.resuming(worker, writer)
        assert [one_run(task, again, "hucb+hw", seed, 10) for seed in (0, 1)] == live[:2]
    assert again.evaluations == 0 and (worker.profiles, len(load_landscape(path))) == before

    replay = SharedEvaluator.resuming(ReplayEvaluator(load_landscape(path), noise="none"), None)
    assert [one_run(task, replay, c, seed, 10) for c in ("hucb+hw", "hucb")
            for seed in (0, 1)] == live
    assert replay.inner.misses == 0


def test_a_landscape_file_serves_one_task_a_folder_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    softmax, layernorm = (load_task(t, "smoke", TASKS_DIR) for t in ("softmax", "layernorm"))
    assert landscape_files(tmp_path / "a.jsonl", [softmax]) == {"softmax": tmp_path / "a.jsonl"}
    assert landscape_files(tmp_path, [softmax, layernorm]) == {
        "softmax": tmp_path / "softmax@smoke.jsonl", "layernorm": tmp_path / "layernorm@smoke.jsonl"}
    assert main(["--tasks", "softmax,layernorm", "--landscape", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "one task's landscape file" in err and err.count("\n") == 1


@pytest.mark.parametrize("counters", [True, False])
def test_the_ablation_replays_committed_landscapes_on_a_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], counters: bool
) -> None:
    """`--replay DIR`: every config through the real tuner over the task's landscape, no
    GPU. Masks act only where the landscape carries counters (record_landscape --counters):
    hucb+hw then closes arms on DRAM-saturated parents; hucb never masks."""
    synthetic_landscape(load_task("softmax", None, TASKS_DIR), tmp_path / "softmax.jsonl",
                        depth=2, counters=counters)
    out = tmp_path / "table.json"
    assert main(["--replay", str(tmp_path), "--tasks", "softmax", "--seeds", "2",
                 "--iterations", "12", "--json", str(out)]) == 0
    rows = {r["config"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"hucb+hw", "hucb", "ucb", "random"}
    assert all(r["best_speedup_mean"] > 1.0 for r in rows.values())  # the landscape has faster kernels
    assert rows["hucb"]["masked_rounds"] == [0, 0] and rows["ucb"]["masked_rounds"] == [0, 0]
    if counters:
        assert sum(rows["hucb+hw"]["masked_rounds"]) > 0
    else:
        assert rows["hucb+hw"]["masked_rounds"] == [0, 0]
    text = capsys.readouterr().out
    assert "replayed" in text and "not recorded" in text


def test_replay_without_a_landscape_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--replay", str(tmp_path), "--tasks", "softmax"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_another_tasks_landscape_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "softmax.jsonl"
    synthetic_landscape(load_task("softmax", None, TASKS_DIR), other, depth=1, device="interpret")
    size = len(other.read_bytes())
    assert main(["--tasks", "softmax", "--size", "smoke", "--device", "interpret",
                 "--landscape", str(other)]) == 2
    out = capsys.readouterr()
    assert out.err.startswith("error: ") and "holds another landscape" in out.err
    assert out.err.count("\n") == 1 and "kernels measured" not in out.out
    assert len(other.read_bytes()) == size  # left as it was
