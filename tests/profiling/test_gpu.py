"""GPU-only checks of the harness (run on a GPU host with KB_TEST_GPU=1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from profiling.evaluator import EvalSettings, WorkerEvaluator, reference_candidate_source
from profiling.measurement import Status

from .conftest import candidate, task

pytestmark = pytest.mark.gpu

SOFTMAX_MID = "BATCH=4096,DIM=4096"


@pytest.fixture(scope="module")
def gpu_ev() -> Iterator[WorkerEvaluator]:
    with WorkerEvaluator(EvalSettings(device="cuda", timeout_s=180)) as ev:
        yield ev


def test_gpu_facts_are_measured(gpu_ev):
    f = gpu_ev.gpu_facts()
    assert f.name != "cpu-interpreter" and f.sm_count > 0 and f.l2_bytes > 0
    assert f.dram_gbps > 100 and f.peak_tflops > 10 and f.peak_tflops_tf32 > 5
    assert 0 < f.peak_tflops_fp32 < f.peak_tflops_tf32  # IEEE fp32: no tensor cores
    assert f.compute_capability


def test_correct_kernel_gets_gpu_timings_and_floor(gpu_ev):
    m = gpu_ev.evaluate(task("row_softmax", SOFTMAX_MID), candidate("softmax_ok"))
    assert m.status is Status.OK, m.error
    assert m.timing_kind == "gpu" and m.trials == 5
    assert m.runtime_ms > 0 and m.ref_runtime_ms > 0
    c = m.shapes[0].candidate
    assert c.reps >= 10 and c.p20_ms <= c.median_ms <= c.p80_ms
    assert m.floor_ms is not None and 0 < m.floor_ms < m.runtime_ms
    assert m.resources.get("n_regs", 0) > 0


def test_same_candidate_timed_twice_agrees(gpu_ev):
    t = task("row_softmax", SOFTMAX_MID)
    src = reference_candidate_source(t)
    a = gpu_ev.evaluate(t, src)
    b = gpu_ev.evaluate(t, src)
    assert a.ok and b.ok
    assert abs(b.runtime_ms / a.runtime_ms - 1) < 0.05
    assert (
        abs(a.speedup - 1) < 0.05 and abs(b.speedup - 1) < 0.05
    )  # reference vs itself, interleaved


def test_tf32_matmul_kernel_passes_and_zeros_do_not(gpu_ev):
    t = task("matmul_fp32", "big")
    m = gpu_ev.evaluate(t, candidate("matmul_tl_dot"))
    assert m.status is Status.OK, m.error
    assert m.diagnostics.tf32_reference_error > 0
    zeros = "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, a, b):\n        return torch.zeros(a.shape[0], b.shape[1], device=a.device)\n"
    assert gpu_ev.evaluate(t, zeros).status is Status.INCORRECT


def test_side_stream_work_is_rejected(gpu_ev):
    m = gpu_ev.evaluate(task("row_softmax", SOFTMAX_MID), candidate("side_stream"))
    assert m.status is Status.REJECTED and "hidden from the timer" in m.error, (m.status, m.error)


def test_hidden_work_check_sees_a_side_stream():
    import torch

    from profiling import timing

    x = torch.randn(4096, 4096, device="cuda")
    side = torch.cuda.Stream()

    def sneaky(x):
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(20):
                y = torch.softmax(x, -1)
        return y

    c = timing.Contender("candidate", sneaky, [x])
    wall, event, n = timing.hidden_work(c)
    assert timing.hidden_work_error(wall, event, n) is not None, (wall, event)
    honest = timing.Contender("candidate", lambda x: torch.softmax(x, -1), [x])
    assert timing.hidden_work_error(*timing.hidden_work(honest)) is None

    def many_launches(x):  # launch-bound but honest: 50 tiny kernels
        for _ in range(50):
            x = x[:8, :8] + 1
        return x

    busy = timing.Contender("candidate", many_launches, [x])
    assert timing.hidden_work_error(*timing.hidden_work(busy)) is None


def test_faster_than_the_floor_is_rejected(gpu_ev):
    m = gpu_ev.evaluate(task("slow_softmax", None), candidate("softmax_ok"))
    assert m.status is Status.REJECTED and "roofline floor" in m.error, m.error


def test_timer_patch_is_rejected_on_gpu(gpu_ev):
    m = gpu_ev.evaluate(task("row_softmax", SOFTMAX_MID), candidate("timer_patch"))
    assert m.status is Status.REJECTED


def test_illegal_address_restarts_the_worker(gpu_ev):
    t = task("row_softmax", SOFTMAX_MID)
    assert gpu_ev.evaluate(t, candidate("softmax_ok")).ok
    pid = gpu_ev.worker_pid
    m = gpu_ev.evaluate(t, candidate("illegal_address"))
    assert m.status in (Status.RUNTIME_ERROR, Status.CRASHED), m.error
    again = gpu_ev.evaluate(t, candidate("softmax_ok"))
    assert again.ok, again.error
    assert gpu_ev.worker_pid not in (None, pid)


def test_compile_baseline():
    t = task("row_softmax", SOFTMAX_MID)
    with WorkerEvaluator(EvalSettings(device="cuda", baseline_compile=True, timeout_s=300)) as ev:
        m = ev.evaluate(t, candidate("softmax_ok"))
        assert m.status is Status.OK, m.error
        assert m.compile_runtime_ms is not None and m.compile_runtime_ms > 0
        pid = ev.worker_pid
        m2 = ev.evaluate(t, candidate("softmax_ok"))  # compiled reference cached in the worker
        assert m2.ok and ev.worker_pid == pid and m2.wall_s < m.wall_s


def test_candidate_using_torch_compile_is_not_tampering():
    with WorkerEvaluator(EvalSettings(device="cuda", timeout_s=300)) as ev:
        m = ev.evaluate(task("row_softmax", SOFTMAX_MID), candidate("compiled_ok"))
        assert m.status is Status.OK, m.error


def test_an_fp32_matmul_is_floored_at_the_ieee_peak_and_a_tf32_kernel_still_passes(gpu_ev):
    """No PRECISION: the floor is IEEE fp32; the precision policy admits TF32 error for this
    TF32-sensitive reference, so an honest TF32 kernel is not rejected as too fast."""
    m = gpu_ev.evaluate(task("matmul_fp32", "big"), candidate("matmul_tl_dot"))
    assert m.status is Status.OK, m.error
    assert m.floor.peak == "fp32" and m.floor.flops_source == "task"
    assert m.floor.bound == "compute"


def test_analysed_flops_give_a_task_without_get_flops_a_compute_floor(gpu_ev, tmp_path):
    from dataclasses import replace

    from profiling.tasks import load_task

    path = tmp_path / "matmul_no_flops.py"  # the fp32 matmul fixture without its get_flops
    path.write_text(task("matmul_fp32").source.split("\n\ndef get_flops")[0] + "\n")
    t = replace(load_task(str(path), "M=4096,K=4096,N=4096"),
                analysed_flops=2 * 4096**3)  # as bandit.flops counts it  # fmt: skip
    assert not hasattr(t.load_module(), "get_flops")
    m = gpu_ev.evaluate(t, reference_candidate_source(t))
    assert m.status is Status.OK, m.error
    assert m.floor.flops == 2 * 4096**3 and m.floor.flops_source == "graph analysis"
    assert m.floor.bound == "compute" and m.floor.peak == "fp32"
    assert 0.5 < m.roofline_fraction <= 1.05  # cuBLAS SGEMM runs near the measured IEEE peak


HOST_HEAVY = """import time

import torch


class ModelNew(torch.nn.Module):
    def forward(self, x):
        t = time.perf_counter()
        while time.perf_counter() - t < 0.0004:  # 0.4 ms of host work before the launch
            pass
        return torch.softmax(x, -1)
"""


def test_a_hold_takes_the_host_launch_out_of_the_event_time():
    """Without a hold, 0.4 ms of host work before a ~30 µs kernel lands in the event time
    (the device has run dry); a 1 ms hold queued before the start event takes it out, and
    the host's side is recorded either way."""
    t = task("row_softmax", SOFTMAX_MID)
    runs = {}
    for hold in (0.0, 1000.0):
        with WorkerEvaluator(EvalSettings(device="cuda", timeout_s=180, hold_us=hold)) as ev:
            m = ev.evaluate(t, HOST_HEAVY)
        assert m.status is Status.OK, m.error
        assert m.diagnostics.host_call_ms >= 0.4
        runs[hold] = m
    assert runs[0.0].diagnostics.hold_us is None and runs[1000.0].diagnostics.hold_us == 1000.0
    assert runs[1000.0].runtime_ms < 0.5 * runs[0.0].runtime_ms


def test_copy_of_a_kernels_bytes_is_timed_as_a_kernel(gpu_ev):
    """`hardware.copy_ms`: 1 GiB moved runs near the floor's rate; 128 MiB, with its fixed
    costs, at a lower one (an H200: 86 % of it)."""
    from profiling import hardware

    rate = gpu_ev.gpu_facts().dram_gbps  # GB/s, bytes read plus written
    big, small = hardware.copy_ms(1 << 30), hardware.copy_ms(128 << 20)
    floor_big = (1 << 30) / (rate * 1e6)
    assert 0.9 * floor_big < big < 1.3 * floor_big, (big, floor_big)
    assert (128 << 20) / small < (1 << 30) / big  # lower bandwidth at the smaller size
