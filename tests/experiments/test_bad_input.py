"""Bad input to `python -m experiments.tune`: one clear line, exit 2, no run directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.overrides import check_overrides
from experiments.settings import TOP_LEVEL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["task=nope"], "unknown task 'nope' (choose from: "),
        (["policy=nope"], "unknown policy 'nope'"),
        (["realizer=gpt5"], "unknown realizer 'gpt5' (choose from: graph, offline, openai)"),
        (["device=tpu"], "unknown device 'tpu'"),
        (["tracking=wandb"], "unknown tracking 'wandb'"),
        (["policy=hucb,nope"], "unknown policy 'nope'"),
        (["foo=1"], "unknown setting 'foo'"),
        (["task"], "bad override 'task'"),
        (["budget.iterations=="], "bad override"),
    ],
)
def test_overrides_are_checked_before_hydra(args, fragment):
    problem = check_overrides(args, TOP_LEVEL)
    assert problem is not None and fragment in problem and "\n" not in problem


def test_good_overrides_pass():
    ok = ["task=layernorm", "task.size=smoke", "policy=ucb", "budget.iterations=3", "-m",
          "seed=0,1", "hydra.run.dir=x", "tracking.uri=sqlite:///x.db", "resume=null",
          "hydra/launcher=basic", "+experiment=compare_policies", "device=replay"]  # fmt: skip
    assert check_overrides(ok, TOP_LEVEL) is None


def _tune(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "experiments.tune", *args, "tracking=none", "device=interpret"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["task=nope"], "unknown task"),
        (["budget.iterations=0"], "positive"),
        (["task.name=PROBLEM"], "not a KernelBench task: missing Model"),
    ],
)
def test_entry_point_says_one_line_exits_2_and_leaves_no_run_dir(tmp_path, args, fragment):
    problem = tmp_path / "problem.py"
    problem.write_text("import torch\n\ndef get_inputs():\n    return []\n")
    args = [a.replace("PROBLEM", str(problem)) for a in args]
    proc = _tune(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert not (tmp_path / "runs").exists()
