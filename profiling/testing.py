"""Conformance kit for evaluators, in the manner of ``bandit.testing`` (the policy kit).

Every evaluator — the worker harness, a replay over recorded measurements, a test
fake — must pass it. In a test module::

    @pytest.fixture
    def evaluator_case():
        return EvaluatorCase(make=MyEvaluator, task=task, expected={good: Status.OK, bad: ...})

    class TestMyEvaluator(EvaluatorConformance):
        pass

Each check is also a plain function taking an `EvaluatorCase`; `check_evaluator`
runs them all. The contract checked:

- ``device`` is a non-empty string and ``gpu_facts()`` names a device;
- every source gets a `Measurement` with the expected status, never an exception;
  a success carries a positive runtime and speedup (reference time / candidate
  time), a failure an error text;
- interpreter timings are labelled as such (``device == "interpret"`` gives
  ``timing_kind == "interpreter"``, ``"cuda"`` gives ``"gpu"``);
- the evaluator is reused: the same sources again, failures in between, give the
  same statuses;
- ``close()`` may be called twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest

from profiling.evaluator import Evaluator
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, Status
from profiling.tasks import Task


@dataclass(frozen=True)
class EvaluatorCase:
    """An evaluator under test: ``expected`` maps candidate sources to their status on ``task``."""

    make: Callable[[], Evaluator]
    task: Task
    expected: Mapping[str, Status]


def _evaluate(ev: Evaluator, task: Task, source: str) -> Measurement:
    try:
        m = ev.evaluate(task, source)
    except Exception as e:  # the contract under test: no exception escapes
        pytest.fail(f"evaluate raised {type(e).__name__}: {e}")
    assert isinstance(m, Measurement), f"evaluate returned {type(m)}"
    if m.ok:
        assert m.runtime_ms is not None and m.runtime_ms > 0, "a success has a runtime"
        assert m.speedup is not None and m.speedup > 0, "a success has a speedup"
    else:
        assert m.error.strip(), f"a {m.status} measurement must say why"
    return m


def _statuses(ev: Evaluator, case: EvaluatorCase) -> dict[str, Status]:
    out = {}
    for source, want in case.expected.items():
        m = _evaluate(ev, case.task, source)
        assert m.status is want, f"expected {want}, got {m.status}: {m.error}"
        out[source] = m.status
    return out


# -- checks ---------------------------------------------------------------------------
def check_protocol(case: EvaluatorCase) -> None:
    ev = case.make()
    assert isinstance(ev.device, str) and ev.device, "device must be a non-empty string"
    facts = ev.gpu_facts()
    assert isinstance(facts, GpuFacts) and facts.name, "gpu_facts() must name the device"


def check_statuses(case: EvaluatorCase) -> None:
    _statuses(case.make(), case)


def check_timing_kind(case: EvaluatorCase) -> None:
    ev = case.make()
    kinds = {"interpret": "interpreter", "cuda": "gpu"}
    for source in case.expected:
        m = _evaluate(ev, case.task, source)
        if m.ok and ev.device in kinds:
            assert m.timing_kind == kinds[ev.device], f"{ev.device} timed as {m.timing_kind}"


def check_reuse(case: EvaluatorCase) -> None:
    ev = case.make()
    first = _statuses(ev, case)
    again = _statuses(ev, case)
    assert first == again


def check_close_twice(case: EvaluatorCase) -> None:
    ev = case.make()
    ev.close()
    ev.close()


CHECKS = (check_protocol, check_statuses, check_timing_kind, check_reuse, check_close_twice)


def check_evaluator(case: EvaluatorCase) -> None:
    """Every check, in order (for use outside pytest)."""
    for check in CHECKS:
        check(case)


class EvaluatorConformance:
    """Tests every evaluator must pass; the subclass provides the ``evaluator_case`` fixture."""

    def test_protocol(self, evaluator_case: EvaluatorCase) -> None:
        check_protocol(evaluator_case)

    def test_statuses(self, evaluator_case: EvaluatorCase) -> None:
        check_statuses(evaluator_case)

    def test_timing_kind(self, evaluator_case: EvaluatorCase) -> None:
        check_timing_kind(evaluator_case)

    def test_reuse(self, evaluator_case: EvaluatorCase) -> None:
        check_reuse(evaluator_case)

    def test_close_twice(self, evaluator_case: EvaluatorCase) -> None:
        check_close_twice(evaluator_case)
