"""bench_tune never reports a stale run: one fresh folder per (task, policy, seed,
realizer); a failed run is a failed row whatever files it left."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from experiments.bench_tune import bench_task, main, run_name


class Args:
    policy, seed, realizer, iterations, device, experiment = "random", 1, "offline", 4, "cuda", "b"


def old_run(folder: Path) -> None:
    folder.mkdir(parents=True)
    row = {"id": "ref", "status": "ok", "measurement": {"runtime_ms": 1.0, "ref_runtime_ms": 1.0}}
    (folder / "candidates.jsonl").write_text(json.dumps(row) + "\n")


def test_one_folder_per_task_policy_seed_and_realizer():
    assert run_name("softmax", Args) == "softmax-random-s1-offline"


def test_an_existing_run_folder_is_never_read_as_this_runs_result(tmp_path):
    old_run(tmp_path / "softmax-random-s1-offline")
    calls = []
    row = bench_task("softmax", Args, tmp_path, [], runner=lambda *a, **k: calls.append(a))
    assert calls == [] and row["status"].startswith("stale: ")


def test_a_failed_run_is_a_failed_row_even_with_old_files_around(tmp_path):
    def runner(cmd, **kw):
        run_dir = Path(
            next(c for c in cmd if c.startswith("hydra.run.dir="))[len("hydra.run.dir=") :]
        )
        old_run(run_dir)  # e.g. files left by something else
        return subprocess.CompletedProcess(cmd, 2, "", "error: run log belongs to another run\n")

    row = bench_task("softmax", Args, tmp_path, [], runner=runner)
    assert row["status"] == "failed (exit 2): error: run log belongs to another run"
    assert (tmp_path / "softmax-random-s1-offline.log").is_file()


def test_unknown_task_is_one_line_and_exit_2(capsys):
    assert main(["--tasks", "nope", "--out", "/nonexistent/x"]) == 2
    assert "unknown task(s) nope" in capsys.readouterr().err
