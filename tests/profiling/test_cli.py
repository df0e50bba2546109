"""The command line: exit codes, one-line errors, the JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from profiling.tasks import PROJECT_ROOT

from .conftest import CANDIDATES, TASKS

SOFTMAX = str(TASKS / "row_softmax.py")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "profiling.evaluate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=PROJECT_ROOT,
    )


def test_json_output_for_a_passing_candidate():
    p = run_cli(
        "--task",
        SOFTMAX,
        "--candidate",
        str(CANDIDATES / "noisy_ok.py"),
        "--device",
        "interpret",
        "--size",
        "smoke",
        "--json",
        "--trials",
        "2",
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)  # exactly one JSON object: candidate prints went elsewhere
    assert d["status"] == "ok" and d["error"] == ""
    assert d["runtime_ms"] > 0 and d["ref_runtime_ms"] > 0 and d["speedup"] > 0
    assert d["trials"] == 2 and d["timing_kind"] == "interpreter" and d["size"] == "smoke"


def test_failed_verdict_still_exits_zero_and_table_renders(tmp_path: Path):
    p = run_cli(
        "--task",
        SOFTMAX,
        "--candidate",
        str(CANDIDATES / "zeros.py"),
        "--device",
        "interpret",
        "--size",
        "smoke",
    )
    assert p.returncode == 0, p.stderr
    assert "incorrect" in p.stdout and "row_softmax [smoke]" in p.stdout


def test_syntax_error_is_a_verdict_not_a_user_error(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("class ModelNew(:\n")
    p = run_cli("--task", SOFTMAX, "--candidate", str(bad), "--device", "interpret", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "syntax_error"


def _assert_user_error(p: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_user_errors_exit_2_with_one_line(tmp_path: Path):
    ok = str(CANDIDATES / "softmax_ok.py")
    _assert_user_error(
        run_cli(
            "--task", SOFTMAX, "--candidate", str(tmp_path / "nope.py"), "--device", "interpret"
        ),
        "candidate file not found",
    )
    _assert_user_error(
        run_cli(
            "--task",
            SOFTMAX,
            "--candidate",
            str(CANDIDATES / "no_model_new.py"),
            "--device",
            "interpret",
        ),
        "defines no ModelNew",
    )
    _assert_user_error(
        run_cli("--task", "no_such_task", "--candidate", ok, "--device", "interpret"),
        "unknown task",
    )
    _assert_user_error(
        run_cli("--task", SOFTMAX, "--candidate", ok, "--size", "huge", "--device", "interpret"),
        "unknown size preset",
    )
    _assert_user_error(
        run_cli("--task", SOFTMAX, "--candidate", ok, "--size", "NOPE=3", "--device", "interpret"),
        "unknown size constant",
    )
    _assert_user_error(
        run_cli("--task", SOFTMAX, "--candidate", ok, "--device", "tpu"), "invalid choice"
    )
    _assert_user_error(run_cli("--candidate", ok), "required")
    _assert_user_error(run_cli("--task", SOFTMAX, "--candidate", ok, "--trials", "0"), "--trials")
