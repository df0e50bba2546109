"""End-to-end: real candidates through the real worker, Triton interpreter on the CPU."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.evaluator import (
    EvalSettings,
    WorkerEvaluator,
    for_device,
    reference_candidate_source,
    resolve_device,
)
from profiling.measurement import Status
from profiling.tasks import bundled_task_names, load_task

from .conftest import SECRETS, candidate, task

SYNTAX_ERROR_SOURCE = "import torch.nn as nn\n\nclass ModelNew(nn.Module):\n    def forward(self, x)\n        return x\n"


def test_correct_triton_kernel_passes_with_interpreter_timings(interp_ev):
    m = interp_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert m.status is Status.OK, m.error
    assert m.trials == 3 and m.max_rel_error is not None and m.max_rel_error < 1e-5
    assert m.timing_kind == "interpreter" and m.device == "cpu-interpreter"
    assert m.runtime_ms > 0 and m.ref_runtime_ms > 0 and m.speedup > 0
    assert m.floor_ms is None
    assert m.wall_s > 0


def test_an_evaluation_says_where_its_seconds_went(interp_ev):
    """Seconds per phase (profiling.phases) in the diagnostics: every worker phase that ran,
    none negative, together within the evaluation's wall time; no re-measure under 5x."""
    m = interp_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert m.status is Status.OK, m.error
    phases = m.diagnostics.phases
    assert list(phases) == ["load", "trials", "probes", "size_probe", "timing", "recheck"]  # no baseline here
    assert all(v >= 0 for v in phases.values()) and phases["trials"] > 0
    assert sum(phases.values()) <= m.wall_s
    again = type(m).from_dict(m.to_dict())
    assert again.diagnostics.phases == phases


def test_worker_is_reused_across_good_candidates(interp_ev):
    interp_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    pid = interp_ev.worker_pid
    assert pid is not None
    for name in ("softmax_ok", "noisy_ok", "zeros"):
        interp_ev.evaluate(task("row_softmax"), candidate(name))
        assert interp_ev.worker_pid == pid


def test_parameters_are_copied_from_the_reference(interp_ev):
    # scale_bias_ok initializes its parameters differently; the harness copies the reference's in
    m = interp_ev.evaluate(task("scale_bias"), candidate("scale_bias_ok"))
    assert m.status is Status.OK, m.error


@pytest.mark.parametrize(
    "name, status, fragment",
    [
        ("exception", Status.RUNTIME_ERROR, "the kernel exploded"),
        ("compile_error", Status.COMPILE_ERROR, "undefined_total"),
        ("wrong_shape", Status.INCORRECT, "expected tensor(4, 32)"),
        ("nan", Status.INCORRECT, "NaN/Inf"),
        ("wrong_values", Status.INCORRECT, "outside tolerance"),
        ("zeros", Status.INCORRECT, "outside tolerance"),
        ("mutates_input", Status.INCORRECT, "modified its input"),
        # caught in a trial when the allocator reuses an address, else in the timed runs
        ("ptr_cache", Status.INCORRECT, "output"),
        ("no_model_new", Status.RUNTIME_ERROR, "no ModelNew"),
    ],
)
def test_failure_statuses(interp_ev, name, status, fragment):
    m = interp_ev.evaluate(task("row_softmax"), candidate(name))
    assert m.status is status, m.error
    assert fragment in m.error
    assert len(m.error) <= 400 and "\n" not in m.error and "Traceback" not in m.error


def test_syntax_error(interp_ev):
    m = interp_ev.evaluate(task("row_softmax"), SYNTAX_ERROR_SOURCE)
    assert m.status is Status.SYNTAX_ERROR and "line 4" in m.error


def test_error_names_the_candidate_line(interp_ev):
    m = interp_ev.evaluate(task("row_softmax"), candidate("exception"))
    assert "[candidate line 6]" in m.error


def test_candidate_prints_do_not_corrupt_the_protocol(interp_ev):
    # it prints a forged reply at import and chatters on every call
    m = interp_ev.evaluate(task("row_softmax"), candidate("noisy_ok"))
    assert m.status is Status.OK, m.error


def test_timer_patching_is_rejected_and_worker_replaced(interp_ev):
    interp_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    pid = interp_ev.worker_pid
    m = interp_ev.evaluate(task("row_softmax"), candidate("timer_patch"))
    assert m.status is Status.REJECTED and "time.perf_counter" in m.error
    ok = interp_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert ok.status is Status.OK and interp_ev.worker_pid not in (None, pid)


def test_tuple_output_task_and_reference_candidate(interp_ev):
    t = task("pair_stats", None)
    m = interp_ev.evaluate(t, reference_candidate_source(t))
    assert m.status is Status.OK, m.error


def test_tf32_sensitive_matmul_with_tl_dot_passes_under_the_interpreter(interp_ev):
    m = interp_ev.evaluate(task("matmul_fp32"), candidate("matmul_tl_dot"))
    assert m.status is Status.OK, m.error


def test_extra_sizes_are_checked_for_correctness():
    t = task("row_softmax")
    with WorkerEvaluator(EvalSettings(device="interpret", trials=2, extra_sizes=("wide",))) as ev:
        m = ev.evaluate(t, candidate("softmax_ok"))
        assert m.status is Status.OK, m.error
        assert [s.size for s in m.shapes] == ["smoke", "wide"]
        # a kernel hard-wired to the primary size fails the extra one
        hard = candidate("softmax_ok").replace("BLOCK=triton.next_power_of_2(n_cols)", "BLOCK=32")
        bad = ev.evaluate(t, hard)
        assert bad.status is Status.INCORRECT and "size wide" in bad.error


# ---- tests on a fresh worker started with secrets in the parent environment


def test_worker_environment_has_no_secrets(fresh_ev):
    m = fresh_ev.evaluate(task("row_softmax"), candidate("env_leak"))
    assert m.status is Status.RUNTIME_ERROR
    assert "leaked=[]" in m.error and "interp=1" in m.error and "path=True" in m.error
    assert "marker=m1" in m.error  # extra worker variables pass (their secrets do not)
    for value in SECRETS.values():
        assert value not in m.error


def test_crash_is_reported_and_worker_replaced(fresh_ev):
    ok = fresh_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert ok.status is Status.OK
    pid = fresh_ev.worker_pid
    m = fresh_ev.evaluate(task("row_softmax"), candidate("crash"))
    assert m.status is Status.CRASHED and "exit code 3" in m.error
    assert fresh_ev.worker_pid is None
    again = fresh_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert again.status is Status.OK and fresh_ev.worker_pid not in (None, pid)


def test_hang_times_out_and_worker_replaced(fresh_ev):
    fresh_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    pid = fresh_ev.worker_pid
    m = fresh_ev.evaluate(task("row_softmax"), candidate("hang"))
    assert m.status is Status.TIMEOUT and "timed out after 4 s" in m.error
    assert 4 <= m.wall_s < 15
    again = fresh_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert again.status is Status.OK and fresh_ev.worker_pid not in (None, pid)


# ---- small pieces


def test_resolve_device_and_interpreter_dtype():
    assert resolve_device("interpret") == "interpret"
    assert resolve_device("auto") in ("cuda", "interpret")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    t = task("row_softmax")
    assert for_device(t, "interpret") is t  # already float32
    bf = t.with_size("smoke,DTYPE=bfloat16")
    assert for_device(bf, "interpret").overrides["DTYPE"] == "bfloat16"  # explicit: kept
    assert for_device(t, "cuda") is t


def test_gpu_facts_in_interpret_mode_needs_no_worker():
    ev = WorkerEvaluator(EvalSettings(device="interpret"))
    assert ev.gpu_facts().name == "cpu-interpreter"
    assert ev.worker_pid is None
    ev.close()


# ---- bundled tasks (experiments/tasks): the reference as candidate must pass

BUNDLED = [n for n in ("softmax", "rmsnorm", "matmul", "layernorm") if n in bundled_task_names(TASKS_DIR)]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_reference_as_candidate_is_ok_at_smoke_size(interp_ev, name):
    t = load_task(name, "smoke", tasks_dir=TASKS_DIR)
    m = interp_ev.evaluate(t, reference_candidate_source(t))
    assert m.status is Status.OK, m.error
    assert m.wall_s < 30


def test_in_place_reference_requires_the_same_input_update(interp_ev):
    t = task("inplace_relu", None)
    assert interp_ev.evaluate(t, reference_candidate_source(t)).status is Status.OK
    pure = "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return torch.relu(x)\n"
    m = interp_ev.evaluate(t, pure)
    assert m.status is Status.INCORRECT and "in-place reference" in m.error


def test_candidate_sources_live_in_the_worker_scratch_and_go_with_it(tmp_path, monkeypatch):
    # a shared temp dir that would collect the files if the worker wrote there
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("KB_SOURCE_DIR", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    settings = EvalSettings(device="interpret", trials=1, timeout_s=60)
    with WorkerEvaluator(settings) as ev:
        m = ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
        assert m.status is Status.OK, m.error
        scratch = [p for p in tmp_path.iterdir() if p.name.startswith("kb-worker-")]
        assert len(scratch) == 1
        written = list((scratch[0] / "src").glob("*.py"))
        assert any("ModelNew" in p.read_text() for p in written)
    assert not (tmp_path / "kernel-bandit-src").exists()
    assert not scratch[0].exists()


def test_precision_opt_in_admits_a_bf16_kernel_only_where_declared(interp_ev):
    """A softmax computed in bf16 fails the fp32 task; on a task that opts into bf16, a
    kernel whose results are bf16 (fp32 math, outputs rounded: at most 2^-9 relative) passes.
    (The all-bf16 softmax of the adversarial file is not used for the second check: its
    error grows with |x|, and the value probes draw fresh inputs each evaluation, so a
    large draw can put one element past bf16's 2 % on the opted-in task too.)"""
    from pathlib import Path

    bf16 = (Path(__file__).parent / "adversarial" / "bf16_downgrade.py").read_text()
    assert interp_ev.evaluate(task("row_softmax"), bf16).status is Status.INCORRECT
    rounded = bf16.replace("torch.softmax(x.bfloat16(), -1).float()",
                           "torch.softmax(x, -1).bfloat16().float()")  # fmt: skip
    assert rounded != bf16
    assert interp_ev.evaluate(task("row_softmax"), rounded).status is Status.INCORRECT
    m = interp_ev.evaluate(task("softmax_bf16_ok", None), rounded)
    assert m.status is Status.OK, m.error


def test_probes_report_what_they_checked(interp_ev):
    m = interp_ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    d = m.diagnostics
    assert m.ok and d.probe_size_checked == 1.0
    assert d.probe_signed_skipped is None and d.task_io_bytes > 0
    # the reference's log() is NaN on negative inputs: the value probes are skipped there
    src = "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return torch.log(x)\n"
    t = task("relu_rand").with_size("smoke")
    log_task = replace(t, source=t.source.replace("torch.relu(x)", "torch.log(x)"))
    m = interp_ev.evaluate(log_task, src)
    assert m.ok, m.error
    assert m.diagnostics.probe_signed_skipped == 1.0


def test_probe_scope_best_probes_only_a_would_be_new_best() -> None:
    """``probe_scope=best``: the probes run after the timing, on a candidate that would be the
    task's new best; slower ones skip them (and say so), and the best kernel is always
    probed, so a hard-wired kernel is still caught whenever it would count."""
    settings = EvalSettings(device="interpret", trials=1, timeout_s=120, probe_scope="best",
                            baseline_compile=False)  # fmt: skip
    t = task("row_softmax")
    hardwired = (Path(__file__).parent / "adversarial" / "hardwired_size.py").read_text()
    with WorkerEvaluator(settings) as ev:
        first = ev.evaluate(t, hardwired)  # no bar yet: probed at the odd size, where it
        # is wrong or, on the CPU, writes past its output (the adversarial manifest's verdicts)
        assert first.status in (Status.INCORRECT, Status.RUNTIME_ERROR, Status.CRASHED)
        ok = ev.evaluate(t, candidate("softmax_ok"))  # the rejected one set no bar
        assert ok.ok and ok.diagnostics.probe_size_checked == 1.0
        assert ok.diagnostics.probes_not_best is None and ok.diagnostics.size_probe_s
        h = ok.diagnostics  # the host's side of the timed calls is recorded for both
        assert h.host_call_ms > 0 and h.host_call_p80_ms >= h.host_call_ms
        assert 0 <= h.slow_calls <= 1 and h.ref_host_call_ms > 0 and h.hold_us is None
        ref = ev.evaluate(t, reference_candidate_source(t))  # trusted: torch's speed is the bar
        assert ref.ok and ref.speedup > 5 * ok.speedup
        again = ev.evaluate(t, candidate("softmax_ok"))  # interpreted Triton: far below it
        d = again.diagnostics
        assert again.ok and d.probes_not_best == 1.0 and d.probe_size_checked is None
        assert d.probes_s is None and d.size_probe_s is None and d.recheck_s is not None
        slow_wrong = ev.evaluate(t, hardwired)  # the trade-off: not a best, not probed
        assert slow_wrong.ok and slow_wrong.diagnostics.probes_not_best == 1.0
    with pytest.raises(ValueError, match="probe_scope must be one of always, best"):
        EvalSettings(probe_scope="sometimes")
    for bad in (-1.0, 20_000.0):
        with pytest.raises(ValueError, match="hold_us must be between 0 and 10000"):
            EvalSettings(hold_us=bad)
