"""SIGKILL a real tuning run at random points, resume it, and check nothing is lost.

Each round starts ``tests.experiments.kill_child`` (the real Tuner, run log and,
in the tracked variant, MLflow on SQLite) on the same run directory and kills it
with SIGKILL at a random moment: during start-up, while it evaluates, while it
waits on the fake LLM, while it writes the run log or MLflow. A last round runs
to the end. Then:

- the run log holds iterations 1..N exactly once, and every one of them used
  a realization and a measurement that reached the log;
- no evaluation and no LLM call ran twice, except the one a killed process had
  in flight when it died (its answer never reached the tuner);
- the tokens of the last record are those of N realizations (counted once);
- with tracking: one MLflow run, its reward metric at steps 1..N exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bandit.runlog import RunLog
from experiments.tracking import HEADLINE
from tests.experiments.kill_child import TOKENS

ROOT = Path(__file__).resolve().parents[2]


def _start(run_dir: Path, iterations: int, track: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.experiments.kill_child",
            str(run_dir),
            str(iterations),
            "1" if track else "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


# After the run log first grows, a kill lands within this window: several iterations'
# worth, so it hits every phase of one (evaluation, LLM wait, run log, MLflow) while a
# round advances the run by a few iterations only, never to its end (a run that ends
# before its kill is a round lost).
WINDOW_S = 0.25
# A start-up kill lands within the start-up seen so far (median), at most this late.
STARTUP_S = 2.5


def kill_and_resume(run_dir: Path, kills: int, iterations: int, track: bool, seed: int) -> dict:
    rng = random.Random(seed)
    log = run_dir / "runlog.jsonl"
    killed: list[int] = []
    startup: list[float] = []  # seconds from a start to the run log's first growth
    attempts = 0
    while len(killed) < kills and attempts < 3 * kills:
        attempts += 1
        p = _start(run_dir, iterations, track)
        t0 = time.monotonic()
        if startup and rng.random() < 0.25:  # anywhere in start-up (imports, resume, MLflow)
            time.sleep(rng.uniform(0.0, min(STARTUP_S, statistics.median(startup))))
        else:  # once it is working: mid-iteration, mid-write
            before, deadline = _size(log), t0 + 60
            while _size(log) == before and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if p.poll() is None and _size(log) != before:
                startup.append(time.monotonic() - t0)
            time.sleep(rng.uniform(0.0, WINDOW_S))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed.append(p.pid)
        else:
            p.wait()
        if p.stdout:
            p.stdout.close()
    final = _start(run_dir, iterations, track)
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0, out.decode()[-2000:]
    assert b"DONE iterations" in out, out.decode()[-2000:]
    return {"killed": killed, "stats": verify(run_dir, iterations, killed, track)}


def _repeats(path: Path, killed: list[int]) -> tuple[int, int]:
    """(calls repeated although they had completed, repeats of a killed process's last call)."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    last_of_killed = {}
    for i, (pid, _) in enumerate(lines):
        if int(pid) in killed:
            last_of_killed[int(pid)] = i
    in_flight = set(last_of_killed.values())
    first: dict[str, int] = {}
    lost = in_flight_repeats = 0
    for i, (_, key) in enumerate(lines):
        if key in first:
            if first[key] in in_flight:
                in_flight_repeats += 1
            else:
                lost += 1
        else:
            first[key] = i
    return lost, in_flight_repeats


def verify(run_dir: Path, iterations: int, killed: list[int], track: bool) -> dict:
    run = RunLog(run_dir / "runlog.jsonl").read()
    assert [r.iteration for r in run.records] == list(range(1, iterations + 1))
    assert run.records[-1].tokens_prompt == TOKENS[0] * iterations
    assert run.records[-1].tokens_completion == TOKENS[1] * iterations
    ids = Counter(c.candidate.id for c in run.candidates)
    assert max(ids.values()) == 1  # every kernel once in the frontier
    lost_evals, flight_evals = _repeats(run_dir / "evals.log", killed)
    lost_llm, flight_llm = _repeats(run_dir / "llm.log", killed)
    assert lost_evals == 0 and lost_llm == 0
    if track:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}")
        exp = client.get_experiment_by_name("kill")
        runs = client.search_runs([exp.experiment_id])
        assert len(runs) == 1
        steps = sorted(
            m.step for m in client.get_metric_history(runs[0].info.run_id, HEADLINE + "reward")
        )
        assert steps == list(range(1, iterations + 1))
    return {
        "lost_evaluations": lost_evals,
        "lost_llm_calls": lost_llm,
        "in_flight_repeats": flight_evals + flight_llm,
    }


def test_a_few_kills_with_mlflow(tmp_path):
    res = kill_and_resume(tmp_path, kills=3, iterations=25, track=True, seed=1)
    assert len(res["killed"]) == 3


# 24 kills in all (3 above): a tracked round waits for MLflow's import and store at
# every start, an untracked one does not, so most kills are untracked.
@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "kills", "iterations", "track"), [(11, 5, 25, True), (12, 16, 60, False)]
)
def test_many_random_kills(tmp_path, seed, kills, iterations, track):
    res = kill_and_resume(tmp_path, kills=kills, iterations=iterations, track=track, seed=seed)
    assert len(res["killed"]) == kills
    print(res)
