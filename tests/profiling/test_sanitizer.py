"""The out-of-bounds check (profiling.sanitizer): command, the memcheck child through a
fake ``compute-sanitizer`` (a real executable that gets the exact command line), the
missing tool, and the policy seam in the evaluator."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator, reference_candidate_source
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.probes.base import ProbeTarget
from profiling.sanitizer import (
    NO_CACHING,
    SanitizeCheck,
    Sanitizer,
    SanitizeResult,
    SanitizerSettings,
    SanitizeStatus,
    build_command,
    find_executable,
    judge,
)
from profiling.tasks import load_task

from .conftest import candidate, task
from .test_memcheck import CLEAN, OOB_READ, OOB_WRITE

FAKE = '''#!{python}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_SAN_RECORD"], "a") as f:
    f.write(json.dumps({{"argv": args, "cwd": os.getcwd(),
        "no_caching": os.environ.get("PYTORCH_NO_CUDA_MEMORY_CACHING"),
        "tmpdir": os.environ.get("TMPDIR"), "secret": "OPENAI_API_KEY" in os.environ,
        "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}}) + "\\n")
log = args[args.index("--log-file") + 1]
spec = json.load(open(args[-1]))
mode = os.environ.get("FAKE_SAN_MODE", "ok")
if mode == "hang":
    open(log, "w").write(open(os.environ["FAKE_SAN_LOG"]).read().split("========= ERROR")[0])
    time.sleep(30)
if mode == "child_fail":
    open(spec["result"], "w").write(json.dumps({{"ok": False, "error": "RuntimeError: CUDA error"}}))
else:
    open(spec["result"], "w").write(json.dumps({{"ok": True}}))
open(log, "w").write(open(os.environ["FAKE_SAN_LOG"]).read())
'''


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    exe = tmp_path / "bin" / "compute-sanitizer"
    exe.parent.mkdir()
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    paths = {"exe": exe, "record": tmp_path / "record.jsonl", "log": tmp_path / "memcheck.txt"}
    monkeypatch.setenv("FAKE_SAN_RECORD", str(paths["record"]))
    monkeypatch.setenv("FAKE_SAN_LOG", str(paths["log"]))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    return paths


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _target() -> ProbeTarget:
    return ProbeTarget(load_task("softmax", "smoke", tasks_dir=TASKS_DIR), "# candidate\n", "cuda")


def _ok(speedup: float) -> Measurement:
    t = Timing(median_ms=1.0, p20_ms=1.0, p80_ms=1.0, reps=10)
    ref = Timing(median_ms=speedup, p20_ms=speedup, p80_ms=speedup, reps=10)
    return Measurement(status=Status.OK, shapes=(ShapeResult(size="smoke", candidate=t,
                                                             reference=ref),))


def test_build_command_is_memcheck_around_the_sandboxed_probe_child() -> None:
    cmd = build_command("compute-sanitizer", "/s/spec.json", "/s/memcheck.log", 7, ("--x",))
    assert cmd[:3] == ["compute-sanitizer", "--tool", "memcheck"]
    assert cmd[cmd.index("--report-api-errors") + 1] == "no"
    assert cmd[cmd.index("--print-limit") + 1] == "7"
    assert cmd[cmd.index("--log-file") + 1] == "/s/memcheck.log" and "--x" in cmd
    assert cmd[-4:] == ["-P", "-m", "profiling.probes.child", "/s/spec.json"]


@pytest.mark.parametrize(("log", "status"), [(OOB_READ, SanitizeStatus.OUT_OF_BOUNDS),
                                             (OOB_WRITE, SanitizeStatus.OUT_OF_BOUNDS),
                                             (CLEAN, SanitizeStatus.CLEAN)])
def test_the_child_runs_under_memcheck_without_caching_and_is_judged(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch, log: str, status: SanitizeStatus
) -> None:
    fake["log"].write_text(log)
    san = Sanitizer(SanitizerSettings(executable=str(fake["exe"])),
                    env={"CUDA_VISIBLE_DEVICES": "3"})
    res = san.run(_target())
    assert res.status is status and res.seconds > 0
    (rec,) = _records(fake["record"])
    assert rec["no_caching"] == NO_CACHING["PYTORCH_NO_CUDA_MEMORY_CACHING"]
    assert rec["cwd"] == rec["tmpdir"] and "kb-sanitize-" in rec["cwd"]  # a fresh folder
    assert not rec["secret"] and rec["gpu"] == "3"  # the worker's environment, its GPU
    assert rec["argv"][-2] == "profiling.probes.child" and rec["argv"][-1].endswith("spec.json")
    assert rec["argv"][rec["argv"].index("--tool") + 1] == "memcheck"
    if status is SanitizeStatus.OUT_OF_BOUNDS:
        assert res.text.startswith("out-of-bounds memory access") and res.report is not None


def test_a_failed_or_timed_out_child_is_inconclusive_unless_memcheck_saw_an_error(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake["log"].write_text(CLEAN)
    monkeypatch.setenv("FAKE_SAN_MODE", "child_fail")
    san = Sanitizer(SanitizerSettings(executable=str(fake["exe"])))
    res = san.run(_target())
    assert res.status is SanitizeStatus.FAILED and "CUDA error" in res.text
    # an error memcheck printed before the child was cut short still rejects
    fake["log"].write_text(OOB_WRITE)
    monkeypatch.setenv("FAKE_SAN_MODE", "hang")
    res = Sanitizer(SanitizerSettings(executable=str(fake["exe"]), timeout_s=3)).run(_target())
    assert res.status is SanitizeStatus.OUT_OF_BOUNDS
    assert judge("", "timed out after 3 s", 3.0).status is SanitizeStatus.FAILED


def test_a_missing_tool_is_found_nowhere_and_skips(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "CUDA_HOME": str(tmp_path / "cuda")}
    assert find_executable("compute-sanitizer", env) is None
    tool = tmp_path / "cuda" / "bin" / "compute-sanitizer"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert find_executable("compute-sanitizer", env) == str(tool)
    san = Sanitizer(SanitizerSettings(executable="no-such-compute-sanitizer-here"))
    res = san.run(_target())
    assert res.status is SanitizeStatus.SKIPPED and "was not found" in res.text
    assert san.run(replace(_target(), device="interpret")).status is SanitizeStatus.SKIPPED


class Recorded(Sanitizer):
    """A sanitizer that answers from a list of recorded results (counts its runs)."""

    def __init__(self, results: list[SanitizeResult]) -> None:
        super().__init__()
        self.results = list(results)
        self.runs: list[ProbeTarget] = []

    def run(self, target: ProbeTarget) -> SanitizeResult:
        self.runs.append(target)
        return self.results.pop(0)


CLEAN_RES = SanitizeResult(SanitizeStatus.CLEAN, seconds=2.0)
OOB_RES = SanitizeResult(SanitizeStatus.OUT_OF_BOUNDS, "out-of-bounds memory access (x)", 3.0)


def test_best_checks_only_a_would_be_new_best_per_task() -> None:
    san = Recorded([CLEAN_RES, OOB_RES, CLEAN_RES])
    said: list[str] = []
    check = SanitizeCheck("best", san, said.append)
    t, odd, other = task("relu_rand"), task("relu_rand", "smoke"), task("row_softmax")
    first = check.apply(_ok(1.5), t, odd, "src", "cuda")
    assert first.ok and first.diagnostics.sanitizer_s == 2.0 and len(san.runs) == 1
    assert san.runs[0].task is odd and san.runs[0].device == "cuda"
    assert check.apply(_ok(1.2), t, odd, "src", "cuda").ok and len(san.runs) == 1  # not a best
    bad = check.apply(_ok(3.0), t, odd, "src", "cuda")  # would be best: checked, rejected
    assert bad.status is Status.REJECTED and "out-of-bounds" in bad.error and "smoke" in bad.error
    assert len(san.runs) == 2
    # the rejected one did not raise the bar; another task has its own best
    assert check.wanted(t, _ok(2.0)) and check.wanted(other, _ok(0.5))
    assert check.apply(_ok(2.0), t, odd, "src", "cuda").ok and len(san.runs) == 3
    assert not check.wanted(t, Measurement.failure(Status.INCORRECT, "x"))
    assert said == []


def test_the_trusted_reference_sets_the_bar_without_a_run() -> None:
    san = Recorded([CLEAN_RES])
    check = SanitizeCheck("best", san, print)
    t = task("relu_rand")
    check.trusted(t, _ok(1.0))
    assert san.runs == []
    assert not check.wanted(t, _ok(0.9)) and check.wanted(t, _ok(1.1))
    check.trusted(t, Measurement.failure(Status.INCORRECT, "x"))  # a failed one sets nothing
    assert check.wanted(t, _ok(1.05))


def test_always_and_off() -> None:
    t = task("relu_rand")
    always = SanitizeCheck("always", Recorded([CLEAN_RES, CLEAN_RES]), print)
    assert always.wanted(t, _ok(1.0)) and always.wanted(t, _ok(0.1))
    off = SanitizeCheck("off", Recorded([]), print)
    assert not off.wanted(t, _ok(100.0)) and off.apply(_ok(100.0), t, t, "s", "cuda").ok
    with pytest.raises(ValueError, match="sanitize must be one of best, always, off") as check:
        SanitizeCheck("sometimes", Recorded([]), print)
    with pytest.raises(ValueError, match="sanitize must be one of") as settings:
        EvalSettings(sanitize="sometimes")
    # one list of modes and one message, whichever refuses it
    assert str(check.value) == str(settings.value) == (
        "sanitize must be one of best, always, off, got 'sometimes'")


def test_a_skip_is_said_once_and_keeps_the_candidate() -> None:
    said: list[str] = []
    check = SanitizeCheck("always", Sanitizer(SanitizerSettings(executable="no-such-tool-x")),
                          said.append)
    t = task("relu_rand")
    for s in (1.0, 2.0, 3.0):
        m = check.apply(_ok(s), t, t, "src", "cuda")
        assert m.ok and m.diagnostics.sanitizer_s is None
    assert len(said) == 1 and "skipped" in said[0] and "no-such-tool-x" in said[0]


def test_the_evaluator_runs_the_check_next_to_the_remeasure(tmp_path: Path) -> None:
    """On the interpreter the check has no GPU: the ok candidate stays ok and the
    evaluator says so once, on its notice channel."""
    said: list[str] = []
    settings = EvalSettings(device="interpret", trials=1, timeout_s=120, sanitize="always",
                            baseline_compile=False)
    with WorkerEvaluator(settings, notice=said.append) as ev:
        m = ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
        assert m.ok, m.error
        m = ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert m.ok and len(said) == 1 and "needs a CUDA device" in said[0], said
    assert os.environ.get("PYTORCH_NO_CUDA_MEMORY_CACHING") is None  # never the parent's


def test_the_reference_itself_skips_the_checks_for_candidate_mistakes() -> None:
    """The reference as a candidate runs its trials and timing only: no input probes, no
    odd size, no out-of-bounds child, even with ``sanitize=always``."""
    said: list[str] = []
    settings = EvalSettings(device="interpret", trials=1, timeout_s=120, sanitize="always",
                            baseline_compile=False)
    t = task("row_softmax")
    with WorkerEvaluator(settings, notice=said.append) as ev:
        ref = ev.evaluate(t, reference_candidate_source(t))
        assert ref.ok, ref.error
        d = ref.diagnostics
        assert said == [] and d.probe_size_checked is None and d.size_probe_s is None
        assert d.probes_s is None and d.trials_s is not None
        m = ev.evaluate(t, candidate("softmax_ok"))
    assert m.ok and m.diagnostics.probe_size_checked == 1.0 and m.diagnostics.size_probe_s
    assert len(said) == 1 and "needs a CUDA device" in said[0]


@pytest.mark.gpu
@pytest.mark.parametrize(("name", "status"), [("relu_no_mask", SanitizeStatus.OUT_OF_BOUNDS),
                                              ("relu_ok", SanitizeStatus.CLEAN)])
def test_gpu_memcheck_on_the_unmasked_and_the_masked_relu(name: str, status: SanitizeStatus):
    """On a GPU host: the real compute-sanitizer over the probe child at the odd size. Prints
    how long the child took; with KB_RECORD_MEMCHECK=<dir> it also writes memcheck's text
    there (to replace the hand-written samples of test_memcheck.py)."""
    from profiling.evaluator import odd_size_tasks

    if find_executable(SanitizerSettings.executable) is None:
        pytest.fail("compute-sanitizer is not on PATH or in $CUDA_HOME/bin on this GPU host")
    source = (Path(__file__).parent / "adversarial" / f"{name}.py").read_text()
    shape = odd_size_tasks(task("relu_rand"), "cuda")[0]
    res = Sanitizer().run(ProbeTarget(shape, source, "cuda"))
    print(f"\n{name} at {shape.size}: {res.status.value} in {res.seconds:.1f} s: {res.text}")
    record = os.environ.get("KB_RECORD_MEMCHECK")
    if record:
        Path(record).mkdir(parents=True, exist_ok=True)
        (Path(record) / f"{name}.memcheck.txt").write_text(res.log)
    assert res.status is status, (res.text, res.log[-3000:])
    if status is SanitizeStatus.OUT_OF_BOUNDS:
        assert res.report is not None and res.report.errors[0].out_of_bounds
