"""Fixtures for the harness tests: test tasks, real candidates, shared workers.

Workers are expensive to start (importing torch and triton takes seconds on a
small CPU), so one interpreter worker serves the whole session; tests that
need a fresh worker (secrets in the environment, short timeouts, crashes)
get their own module-scoped one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.tasks import Task, load_task

FIXTURES = Path(__file__).parent / "fixtures"
TASKS = FIXTURES / "tasks"
CANDIDATES = FIXTURES / "candidates"

SECRETS = {
    "OPENAI_API_KEY": "sk-test-not-a-real-key",
    "HF_TOKEN": "hf_test_token",
    "AWS_SECRET_ACCESS_KEY": "aws-test-secret",
    "MY_SERVICE_PASSWORD": "hunter2",
    "ANTHROPIC_API_KEY": "sk-ant-test",
}


def task(name: str, size: str | None = "smoke") -> Task:
    return load_task(str(TASKS / f"{name}.py"), size)


def candidate(name: str) -> str:
    return (CANDIDATES / f"{name}.py").read_text()


@pytest.fixture(scope="session")
def interp_ev() -> Iterator[WorkerEvaluator]:
    """The shared interpreter worker (reused across tests)."""
    with WorkerEvaluator(EvalSettings(device="interpret", trials=3, timeout_s=60)) as ev:
        yield ev


@pytest.fixture(scope="module")
def fresh_ev() -> Iterator[WorkerEvaluator]:
    """A worker started while secrets are in the parent environment; short timeout."""
    saved = {k: os.environ.get(k) for k in SECRETS}
    os.environ.update(SECRETS)
    try:
        settings = EvalSettings(device="interpret", trials=2, timeout_s=4)
        extra = {"KB_WORKER_MARKER": "m1", "EXTRA_API_KEY": "k-extra"}
        with WorkerEvaluator(settings, env=extra) as ev:
            ev.evaluate(task("row_softmax"), candidate("softmax_ok"))  # starts it now
            yield ev
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
