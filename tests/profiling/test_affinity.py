"""profiling.affinity: CPU sets per GPU, their text form, pinning a process from KB_CPUS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from profiling.affinity import ENV, available, format_cpus, parse_cpus, pin_from_env, split_cpus

pinnable = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")


def test_text_form_round_trips() -> None:
    assert parse_cpus("0-3,8") == {0, 1, 2, 3, 8}
    assert parse_cpus(" 5 ") == {5}
    for cpus in ({0, 1, 2, 3, 8}, {7}, {0, 2, 4}, set(range(16, 32))):
        assert parse_cpus(format_cpus(cpus)) == cpus
    assert format_cpus({0, 1, 2, 3, 8, 10, 11}) == "0-3,8,10-11"
    for bad in ("a", "3-1", "-1", "1-", ""):
        with pytest.raises(ValueError, match="KB_CPUS wants CPU numbers"):
            parse_cpus(bad)


def test_split_gives_disjoint_consecutive_shares_covering_the_cores() -> None:
    shares = split_cpus(range(10), 3)
    assert [sorted(s) for s in shares] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split_cpus({4, 6, 9, 12}, 2) == [{4, 6}, {9, 12}]
    assert split_cpus(range(2), 4) == [] and split_cpus(range(4), 0) == []


@pinnable
def test_a_run_pins_itself_and_its_children_from_the_environment() -> None:
    first = min(available())
    code = ("import os, subprocess, sys\n"
            "from profiling.affinity import pin_from_env\n"
            "print(sorted(pin_from_env()))\n"
            "print(subprocess.run([sys.executable, '-c', 'import os; print(sorted(os.sched_getaffinity(0)))'],"
            " capture_output=True, text=True).stdout.strip())\n")  # fmt: skip
    env = {**os.environ, ENV: str(first)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split("\n")  # fmt: skip
    assert out[:2] == [str([first]), str([first])]  # the child inherits the share


def test_unset_pins_nothing_and_a_share_outside_this_process_is_an_error() -> None:
    assert pin_from_env({}) is None and pin_from_env({ENV: " "}) is None
    outside = max(available()) + 1000
    with pytest.raises(ValueError, match="names no CPU this process may use"):
        pin_from_env({ENV: str(outside)})


@pinnable
def test_an_evaluation_worker_runs_on_the_share_it_was_given() -> None:
    from profiling.evaluator import EvalSettings, WorkerEvaluator

    from .conftest import candidate, task

    first = min(available())
    settings = EvalSettings(device="interpret", trials=1, timeout_s=120, baseline_compile=False)
    with WorkerEvaluator(settings, env={ENV: str(first)}) as ev:
        assert ev.evaluate(task("row_softmax"), candidate("softmax_ok")).ok
        assert ev.worker_pid is not None and os.sched_getaffinity(ev.worker_pid) == {first}


@pytest.mark.parametrize("module", ["profiling.remeasure", "profiling.probes.child"])
def test_the_harness_children_pin_themselves_before_reading_their_request(
    module: str, monkeypatch, tmp_path
) -> None:
    """The re-measure and probe children get the worker's environment (KB_CPUS included) and
    apply the share first thing, before any candidate or torch work."""
    import importlib

    from profiling.worker_process import child_env

    assert child_env("cuda", {ENV: "0-3"}, str(tmp_path))[ENV] == "0-3"
    mod = importlib.import_module(module)
    calls: list[str] = []
    monkeypatch.setattr(mod, "pin_quietly", lambda prog: calls.append(prog))
    with pytest.raises(FileNotFoundError):
        mod.main([str(tmp_path / "no-request.json")])
    assert calls == [module]


def test_a_share_a_child_cannot_apply_is_a_line_not_a_failure(monkeypatch, capsys) -> None:
    from profiling.affinity import pin_quietly

    monkeypatch.setenv(ENV, "nonsense")
    assert pin_quietly("profiling.worker") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["profiling.worker: not pinned: KB_CPUS wants CPU numbers and ranges like "
                   "0-3,8; got 'nonsense'"]  # fmt: skip
