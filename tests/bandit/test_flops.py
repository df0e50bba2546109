"""The roofline floor's FLOPs for a task whose module declares none: the graph analysis,
carried down on the task spec; the module's own get_flops wins."""

from __future__ import annotations

from pathlib import Path

import torch

from bandit.flops import declares_flops, with_analysed_flops
from experiments import TASKS_DIR
from profiling.hardware import GpuFacts
from profiling.precision import precision_name
from profiling.roofline import FLOPS_FROM_ANALYSIS, FLOPS_FROM_TASK, compute_floor, floor_flops
from profiling.tasks import Task, load_task

KERNELBENCH = Path(__file__).resolve().parents[1] / "strategies" / "kernelbench"
FACTS = GpuFacts(name="fake", dram_gbps=1000.0, peak_tflops=100.0, peak_tflops_tf32=50.0,
                 peak_tflops_fp32=10.0)  # fmt: skip

MATMUL = '''
import torch
import torch.nn as nn

M = 32
K = 48
N = 40
{extra}

class Model(nn.Module):
    def forward(self, A, B):
        {body}


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
'''


def _task(tmp_path: Path, name: str, extra: str = "", body: str = "return A @ B") -> Task:
    path = tmp_path / f"{name}.py"
    path.write_text(MATMUL.format(extra=extra, body=body))
    return load_task(str(path))


def _floor(task: Task):
    """The floor as the worker computes it (profiling.timed), on the CPU."""
    mod = task.load_module()
    model = mod.Model(*mod.get_init_inputs())
    inputs = mod.get_inputs()
    with torch.no_grad():
        out = model(*inputs)
    flops, source = floor_flops(mod, task.analysed_flops)
    return compute_floor(inputs, out, list(model.parameters()), flops, FACTS,
                         flops_source=source, precision=precision_name(mod))  # fmt: skip


def test_a_matmul_without_get_flops_is_floored_at_its_analysed_flops():
    task = with_analysed_flops(load_task(str(KERNELBENCH / "34_matmul.py")))
    m, k, n = (task.constants[c] for c in ("M", "K", "N"))
    assert task.analysed_flops == 2 * m * n * k
    floor = _floor(task)
    assert floor.flops == 2 * m * n * k and floor.flops_source == FLOPS_FROM_ANALYSIS
    assert floor.peak == "fp32"  # fp32, no PRECISION: the IEEE fp32 peak
    assert abs(floor.compute_ms - 2 * m * n * k / (FACTS.peak_tflops_fp32 * 1e9)) < 1e-12
    assert floor.record().flops_source == "graph analysis"


def test_the_count_follows_the_size():
    small = with_analysed_flops(load_task(str(KERNELBENCH / "34_matmul.py")))
    big = with_analysed_flops(small.with_size("M=96"))  # M = 48 by default
    assert big.analysed_flops == 2 * small.analysed_flops


def test_a_task_get_flops_wins(tmp_path):
    extra = "\n\ndef get_flops():\n    return 7\n"
    task = _task(tmp_path, "own_count", extra=extra)
    assert declares_flops(task)
    assert with_analysed_flops(task) is task  # not analysed at all
    floor = _floor(task)
    assert floor.flops == 7 and floor.flops_source == FLOPS_FROM_TASK
    bundled = load_task("matmul", "smoke", TASKS_DIR)
    assert declares_flops(bundled) and with_analysed_flops(bundled).analysed_flops is None


def test_a_task_opted_into_tf32_is_floored_at_the_tf32_peak(tmp_path):
    task = with_analysed_flops(_task(tmp_path, "tf32_matmul", extra='PRECISION = "tf32"'))
    floor = _floor(task)
    assert floor.peak == "tf32" and floor.flops == 2 * 32 * 48 * 40
    assert abs(floor.compute_ms - floor.flops / (FACTS.peak_tflops_tf32 * 1e9)) < 1e-12


def test_a_reference_that_cannot_be_captured_keeps_a_memory_floor(tmp_path):
    body = "return A @ B if float(A.sum()) > 0 else B.t() @ A.t()"  # data-dependent: no graph
    task = _task(tmp_path, "data_dependent", body=body)
    assert not declares_flops(task)
    assert with_analysed_flops(task) is task
    floor = _floor(task)
    assert floor.compute_ms is None and floor.flops is None and floor.binding == "memory"
