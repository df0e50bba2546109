"""Progress output: a bar on a terminal, one plain line per iteration otherwise, and
the same lines in the run's log."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from experiments.progress import PlainProgress, ProgressBar, make_progress
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
)


def run_with(observer) -> None:
    Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(tokens=(1000, 234), usd=0.0123),
        make_policy("ucb", 0),
        catalog(),
        settings=TunerSettings(seed=0),
        parts=TunerParts(observers=[observer], reference_source=REF_SOURCE),
    ).run(Budget(iterations=5))


def test_auto_is_plain_when_not_a_terminal_and_a_bar_on_one():
    piped = Console(file=io.StringIO())
    assert isinstance(make_progress("auto", 5, piped), PlainProgress)
    tty = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(make_progress("auto", 5, tty), ProgressBar)
    assert isinstance(make_progress("plain", 5, tty), PlainProgress)
    assert isinstance(make_progress("bar", 5, piped), ProgressBar)
    with pytest.raises(ValueError, match="progress must be one of auto, bar, plain"):
        make_progress("fancy", 5, piped)


def test_plain_mode_prints_one_full_line_per_iteration_and_logs_it(caplog):
    buf = io.StringIO()
    console = Console(file=buf, width=40)  # narrow: plain lines must not wrap or cut
    with caplog.at_level(logging.INFO, logger="kernel_bandit"):
        run_with(make_progress("plain", 5, console))
    lines = buf.getvalue().splitlines()
    its = [ln for ln in lines if ln.startswith("iteration ")]
    assert [ln.split(":")[0] for ln in its] == [f"iteration {i}/5" for i in range(1, 6)]
    assert "tokens 6,170, $0.0615" in its[-1]  # cumulative, in full
    assert lines[0].startswith("fake (smoke) on interpret") and lines[-1].startswith("run ended")
    assert "\x1b" not in buf.getvalue()
    logged = [r.getMessage() for r in caplog.records if r.name == "kernel_bandit"]
    assert logged == lines


def test_the_bar_still_logs_one_line_per_iteration(caplog):
    console = Console(file=io.StringIO(), force_terminal=True)
    with caplog.at_level(logging.INFO, logger="kernel_bandit"):
        run_with(make_progress("bar", 5, console))
    logged = [r.getMessage() for r in caplog.records if r.name == "kernel_bandit"]
    assert sum(m.startswith("iteration ") for m in logged) == 5
