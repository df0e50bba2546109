"""Conformance kit for realizers, in the manner of ``bandit.testing`` (the policy kit).

Every realizer — built-in, replayed, or a test fake — must pass it. In a test module::

    @pytest.fixture
    def realizer_case(task, strategy):
        return RealizerCase(make=MyRealizer, requests=(RealizeRequest(task, strategy, src),))

    class TestMyRealizer(RealizerConformance):
        pass

Each check is also a plain function taking a `RealizerCase`, and `check_realizer`
runs them all, so the kit can be used outside pytest. The contract checked:

- ``name`` is a non-empty string, ``deterministic`` a bool;
- a deterministic realizer gives the same source for the same request, also from a
  fresh instance;
- ``can_realize`` agrees with ``realize``: a declined request fails, and for a
  deterministic realizer an accepted one succeeds;
- a failure comes back as a `Realization` with ``source=None`` and an error text,
  never as an exception (``realize`` and ``repair`` alike);
- costs are counted once: what the realizations report adds up to what the
  provider charged (``spent_tokens``, when the case can observe it);
- ``check_task`` accepts the requests' tasks and rejects ``rejected_task`` with a
  one-line `RealizerError`;
- ``close`` may be called twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from profiling.measurement import Measurement, Status
from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.types import Realization, RealizationCost, Realizer, RealizeRequest


@dataclass(frozen=True)
class RealizerCase:
    """A realizer under test and the requests to put to it.

    ``make``: a new realizer. ``requests``: requests it may answer either way.
    ``failing``: requests it must answer with a failed `Realization`.
    ``rejected_task``: a task its ``check_task`` must refuse (None: it accepts all).
    ``spent_tokens``: the provider's running token count, when observable.
    ``charges``: whether it may spend tokens at all (without ``spent_tokens``, a
    realizer that does not charge must report zero tokens and dollars).
    """

    make: Callable[[], Realizer]
    requests: Sequence[RealizeRequest]
    failing: Sequence[RealizeRequest] = ()
    rejected_task: Task | None = None
    spent_tokens: Callable[[], int] | None = None
    charges: bool = False  # whether realizations may cost tokens at all


def _realize(realizer: Realizer, request: RealizeRequest) -> Realization:
    try:
        result = realizer.realize(request)
    except RealizerError:
        raise
    except Exception as e:  # the contract under test: no exception escapes
        pytest.fail(f"{realizer.name}.realize raised {type(e).__name__}: {e}")
    assert isinstance(result, Realization), f"{realizer.name}.realize returned {type(result)}"
    if result.ok:
        assert result.source and result.error == "", "a success carries source and no error"
    else:
        assert result.error.strip(), f"{realizer.name}: a failed realization must say why"
    return result


# -- checks ---------------------------------------------------------------------------
def check_protocol(case: RealizerCase) -> None:
    r = case.make()
    try:
        assert isinstance(r.name, str) and r.name, "name must be a non-empty string"
        assert isinstance(r.deterministic, bool), "deterministic must be a bool"
        for req in case.requests:
            assert isinstance(r.can_realize(req), bool)
    finally:
        r.close()


def check_determinism(case: RealizerCase) -> None:
    first, second = case.make(), case.make()
    try:
        if not first.deterministic:
            return
        for req in case.requests:
            a, b, c = _realize(first, req), _realize(first, req), _realize(second, req)
            assert a.source == b.source == c.source, f"{first.name}: same request, other source"
            assert a.error == b.error == c.error
    finally:
        first.close()
        second.close()


def check_can_realize_agrees(case: RealizerCase) -> None:
    r = case.make()
    try:
        for req in (*case.requests, *case.failing):
            promised = r.can_realize(req)
            got = _realize(r, req)
            if not promised:
                assert not got.ok, f"{r.name}: can_realize said no, realize made {req.strategy.id}"
            elif r.deterministic:
                assert got.ok, f"{r.name}: can_realize said yes, realize failed: {got.error}"
    finally:
        r.close()


def check_failures_are_realizations(case: RealizerCase) -> None:
    r = case.make()
    try:
        for req in case.failing:
            got = _realize(r, req)
            assert not got.ok, f"{r.name}: expected a failed realization for {req.strategy.id}"
        broken = Measurement.failure(Status.COMPILE_ERROR, "CompilationError: at 1:0: bad")
        for req in (*case.requests[:1], *case.failing[:1]):
            try:
                got = r.repair(req, req.parent_source, broken)
            except RealizerError as e:  # fatal and user-caused (a replay miss): one line
                assert "\n" not in str(e), f"not one line: {e}"
                continue
            except Exception as e:
                pytest.fail(f"{r.name}.repair raised {type(e).__name__}: {e}")
            assert isinstance(got, Realization) and (got.ok or got.error.strip())
    finally:
        r.close()


def check_costs_counted_once(case: RealizerCase) -> None:
    r = case.make()
    try:
        before = case.spent_tokens() if case.spent_tokens else 0
        total = RealizationCost()
        for req in (*case.requests, *case.failing):
            total = total + _realize(r, req).cost
        for value in (total.prompt_tokens, total.completion_tokens, total.usd, total.calls):
            assert value >= 0, f"{r.name}: negative cost {total}"
        if case.spent_tokens is not None:
            charged = case.spent_tokens() - before
            assert total.tokens == charged, f"{r.name}: reported {total.tokens}, charged {charged}"
        elif not case.charges:
            assert total.tokens == 0 and total.usd == 0, f"{r.name}: tokens from nowhere {total}"
    finally:
        r.close()


def check_task_checks(case: RealizerCase) -> None:
    r = case.make()
    try:
        for req in case.requests:
            r.check_task(req.task)
        if case.rejected_task is not None:
            with pytest.raises(RealizerError) as info:
                r.check_task(case.rejected_task)
            text = str(info.value)
            assert text.strip() and "\n" not in text, f"not one line: {text!r}"
    finally:
        r.close()


def check_close_twice(case: RealizerCase) -> None:
    r = case.make()
    r.close()
    r.close()


CHECKS = (
    check_protocol,
    check_determinism,
    check_can_realize_agrees,
    check_failures_are_realizations,
    check_costs_counted_once,
    check_task_checks,
    check_close_twice,
)


def check_realizer(case: RealizerCase) -> None:
    """Every check, in order (for use outside pytest)."""
    for check in CHECKS:
        check(case)


class RealizerConformance:
    """Tests every realizer must pass; the subclass provides the ``realizer_case`` fixture."""

    def test_protocol(self, realizer_case: RealizerCase) -> None:
        check_protocol(realizer_case)

    def test_determinism(self, realizer_case: RealizerCase) -> None:
        check_determinism(realizer_case)

    def test_can_realize_agrees(self, realizer_case: RealizerCase) -> None:
        check_can_realize_agrees(realizer_case)

    def test_failures_are_realizations(self, realizer_case: RealizerCase) -> None:
        check_failures_are_realizations(realizer_case)

    def test_costs_counted_once(self, realizer_case: RealizerCase) -> None:
        check_costs_counted_once(realizer_case)

    def test_task_checks(self, realizer_case: RealizerCase) -> None:
        check_task_checks(realizer_case)

    def test_close_twice(self, realizer_case: RealizerCase) -> None:
        check_close_twice(realizer_case)
