"""GPU memory per evaluation: a 6.4 GB-a-tensor elementwise problem (KernelBench's 19_ReLU
at its own size) evaluates within 3x its own bytes (run with KB_TEST_GPU=1 on a GPU host)."""

from __future__ import annotations

import pytest

from experiments.bench_memory import BUDGET, KB_RELU, RELU_TRITON, SLACK_BYTES
from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.measurement import Status
from profiling.tasks import load_task

pytestmark = pytest.mark.gpu


def test_six_gb_a_tensor_relu_fits_in_three_times_its_bytes(tmp_path):
    import torch

    if torch.cuda.get_device_properties(0).total_memory < 60e9:
        pytest.skip("needs a GPU with at least 60 GB")
    path = tmp_path / "19_ReLU.py"
    path.write_text(KB_RELU)
    t = load_task(str(path))
    settings = EvalSettings(
        device="cuda", trials=2, warmup_ms=5, rep_ms=20, timeout_s=300, baseline_compile=False
    )
    with WorkerEvaluator(settings) as ev:
        m = ev.evaluate(t, RELU_TRITON)
    assert m.status is Status.OK, m.error
    io = m.diagnostics.task_io_bytes
    assert io > 12e9  # 6.4 GB in, 6.4 GB out
    peak = m.diagnostics.peak_gpu_bytes
    print(
        f"19_ReLU 4096x393216: I+O {io / 1e9:.2f} GB, peak {peak / 1e9:.2f} GB ({peak / io:.2f}x)"
    )
    assert peak <= BUDGET * io + SLACK_BYTES
