"""A real tuning run for the kill test (tests/experiments/test_kill_resume.py).

``python -m tests.experiments.kill_child RUN_DIR ITERATIONS TRACK`` runs the real
`Tuner` (run log, resume, MLflow tracking when TRACK is 1) with a slow fake
evaluator and a slow fake LLM realizer. Each appends ``pid key`` to a side file
when a call completes (evals.log, llm.log in RUN_DIR), so the test can tell
which calls ran more than once across the killed processes. Starting it again on
the same RUN_DIR resumes the run.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bandit.budget import Budget
from bandit.frontier import source_hash
from bandit.policies import make_policy
from bandit.tuner import Tuner, TunerParts
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.types import BaseRealizer, Realization, RealizationCost, RealizeRequest
from tests.bandit.tuner_fakes import REF_SOURCE, STRATEGIES, TASK, catalog, ok

TOKENS = (7, 5)
EVAL_S = 0.03
LLM_S = 0.02


def _side(run_dir: Path, name: str, key: str) -> None:
    with open(run_dir / name, "a") as f:
        f.write(f"{os.getpid()} {key}\n")
        f.flush()


def llm_key(request: RealizeRequest) -> str:
    return f"{request.strategy.id}|{source_hash(request.parent_source)[:12]}|{request.seed}"


@dataclass
class SlowEvaluator:
    run_dir: Path
    device: str = "interpret"

    def evaluate(self, task: Task, source: str) -> Measurement:
        time.sleep(EVAL_S)
        h = source_hash(source)
        ms = 1.0 + int(hashlib.sha256(source.encode()).hexdigest()[:6], 16) % 1000 / 100
        _side(self.run_dir, "evals.log", h)
        return ok(ms if source != REF_SOURCE else 10.0)

    def gpu_facts(self) -> GpuFacts:
        return GpuFacts(name="Fake GPU")

    def close(self) -> None:
        pass


class SlowLLM(BaseRealizer):
    name = "slow-llm"

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def realize(self, request: RealizeRequest) -> Realization:
        time.sleep(LLM_S)
        key = llm_key(request)
        _side(self.run_dir, "llm.log", key)
        src = f"# {key}\nclass ModelNew: pass\n"
        return Realization(src, RealizationCost(TOKENS[0], TOKENS[1], 0.001, LLM_S, 1))


def main() -> int:
    run_dir, iterations, track = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    observers = []
    if track:
        from experiments.report import RunDirWriter
        from experiments.settings import TrackingSettings
        from experiments.tracking import MlflowTracker

        settings = TrackingSettings(uri=f"sqlite:///{run_dir / 'mlflow.db'}", experiment="kill")
        observers.append(
            MlflowTracker(settings, RunDirWriter(run_dir, figures=False), {"seed": 0}, flush_s=0.0)
        )
    tuner = Tuner(
        TASK,
        SlowEvaluator(run_dir),
        SlowLLM(run_dir),
        make_policy("ucb", 0),
        catalog(s for s in STRATEGIES if s.target != "cuda"),
        parts=TunerParts(
            run_log=run_dir / "runlog.jsonl",
            observers=observers,
            reference_source=REF_SOURCE,
        ),
    )
    result = tuner.run(Budget(iterations=iterations))
    print(f"DONE {result.stop_reason}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
