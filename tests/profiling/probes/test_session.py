from __future__ import annotations

from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.evaluator import reference_candidate_source
from profiling.probes.base import ProbeTarget
from profiling.probes.ncu import NcuSettings
from profiling.probes.registry import ProbeSettings
from profiling.probes.session import ProbeSession
from profiling.tasks import load_task
from strategies.graph.realizer import initial_source
from tests.profiling.probes.ncu_fakes import install_fake_ncu, raw_csv


def test_no_probe_selected_is_free() -> None:
    report = ProbeSession(ProbeSettings()).profile(
        ProbeTarget(load_task("softmax", "smoke", tasks_dir=TASKS_DIR), "x = 1\n"))
    assert report.counters is None and report.seconds == 0.0 and report.notes == ()


def test_in_process_probes_run_in_a_real_child_on_the_interpreter() -> None:
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    said: list[str] = []
    session = ProbeSession(ProbeSettings(names=("triton",)), say=said.append)
    report = session.profile(ProbeTarget(task, initial_source(task), "interpret"))
    # the child loaded task and candidate, warmed up and ran the forward: no failure;
    # under the interpreter Triton compiles nothing, and the probe says so
    assert not any("failed" in n for n in report.notes), report.notes
    assert report.compiled is None and any("no compiled Triton kernel" in n for n in report.notes)
    assert report.seconds > 0 and len(said) == 1
    again = session.profile(ProbeTarget(task, initial_source(task), "interpret"))
    assert again.cached and again.seconds == 0.0 and len(said) == 1


def test_a_broken_candidate_is_a_note_not_an_error() -> None:
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    session = ProbeSession(ProbeSettings(names=("triton",)), say=lambda s: None)
    broken = reference_candidate_source(task).replace("ModelNew = Model", "ModelNew = None")
    report = session.profile(ProbeTarget(task, broken, "interpret"))
    assert report.compiled is None
    assert any("probe child failed" in n and "TypeError" in n for n in report.notes)


def test_ncu_wraps_the_child_and_the_report_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ncu = install_fake_ncu(tmp_path)
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(raw_csv([("k", {"gpu__time_duration.sum": 5e4,
                                        "dram__throughput.avg.pct_of_peak_sustained_elapsed": 91})]))
    monkeypatch.setenv("FAKE_NCU_CSV", str(csv_path))
    monkeypatch.setenv("FAKE_NCU_ARGV", str(tmp_path / "argv"))
    session = ProbeSession(ProbeSettings(names=("ncu",), ncu=NcuSettings(executable=str(ncu))))
    target = ProbeTarget(load_task("softmax", "smoke", tasks_dir=TASKS_DIR), "# k\n", "cuda")
    report = session.profile(target)
    assert report.counters is not None and report.counters.dram_pct == 91.0
    assert report.seconds > 0 and not report.cached
    assert session.profile(target).cached
    assert len((tmp_path / "argv").read_text().splitlines()) == 1


def _fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows) -> Path:  # type: ignore[no-untyped-def]
    ncu = install_fake_ncu(tmp_path)
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(raw_csv(rows))
    monkeypatch.setenv("FAKE_NCU_CSV", str(csv_path))
    monkeypatch.setenv("FAKE_NCU_ARGV", str(tmp_path / "argv"))
    return ncu


DRAM = "dram__throughput.avg.pct_of_peak_sustained_elapsed"
TIME = "gpu__time_duration.sum"


def test_a_batch_is_one_child_split_at_the_separator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ncu = _fake(tmp_path, monkeypatch, [
        ("void at::<unnamed>::softmax_ref_kernel", {TIME: 9e4, DRAM: 50}),
        ("void at::cuda::<unnamed>::spin_kernel(long)", {TIME: 1e3, DRAM: 0}),
        ("my_triton_kernel", {TIME: 4e4, DRAM: 90}),
    ])
    session = ProbeSession(ProbeSettings(names=("ncu",), ncu=NcuSettings(executable=str(ncu))),
                           say=lambda s: None)
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    targets = [ProbeTarget(task, "# ref\n", "cuda", reference=True),
               ProbeTarget(task, "# mine\n", "cuda")]
    ref, mine = session.profile_many(targets)
    assert len((tmp_path / "argv").read_text().splitlines()) == 1  # one child for both
    assert ref.counters is not None and ref.counters.dram_pct == 50.0
    assert mine.counters is not None and mine.counters.dram_pct == 90.0
    assert ref.counters.launches == 1 and mine.counters.launches == 1  # no separator inside
    assert session.profile(targets[1]).cached


def test_a_batch_that_cannot_be_split_falls_back_to_one_child_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ncu = _fake(tmp_path, monkeypatch, [("k", {TIME: 4e4, DRAM: 70})])
    session = ProbeSession(ProbeSettings(names=("ncu",), ncu=NcuSettings(executable=str(ncu))),
                           say=lambda s: None)
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    reports = session.profile_many([ProbeTarget(task, f"# {i}\n", "cuda") for i in range(2)])
    assert [r.counters.dram_pct for r in reports if r.counters] == [70.0, 70.0]
    assert len((tmp_path / "argv").read_text().splitlines()) == 3  # the batch, then one each
