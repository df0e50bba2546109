"""Prompt building: output contract, contents, and bounded size."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, Status
from profiling.probes.counters import Counters
from profiling.tasks import load_task
from strategies.prompt import (
    PromptLimits,
    describe_gpu,
    realize_messages,
    repair_messages,
    system_message,
    truncate,
)
from strategies.types import RealizeRequest
from tests.strategies.conftest import GOOD_SOURCE


def total_chars(messages) -> int:
    return sum(len(m["content"]) for m in messages)


def test_truncate_keeps_head_and_tail():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    out = truncate(text, 1000)
    assert out.startswith("HEAD") and out.endswith("TAIL")
    assert "characters omitted" in out and len(out) < 1100
    assert truncate("short", 1000) == "short"


def test_system_message_states_the_contract():
    triton = system_message("triton")
    assert "```python" in triton and "ModelNew" in triton and "Triton" in triton
    assert "constructor" in triton and "same arguments" in triton
    cuda = system_message("cuda")
    assert "cupy.RawKernel" in cuda and "CUDA C++" in cuda


def test_cuda_strategy_gets_the_cuda_contract(task, catalog):
    req = RealizeRequest(task=task, strategy=catalog.get("vectorization/cuda_vec4"),
                         parent_source=task.module_source())
    assert "cupy.RawKernel" in realize_messages(req)[0]["content"]


def test_reference_parent_is_not_repeated(task, strategy):
    req = RealizeRequest(task=task, strategy=strategy, parent_source=task.module_source())
    user = realize_messages(req)[1]["content"]
    assert user.count("torch.softmax(x, dim=-1)") == 1
    assert "parent is the reference program itself" in user
    assert "not measured yet" in user
    assert "size: smoke (batch_size=6, dim=200)" in user


def test_unknown_gpu_facts_are_left_out():
    assert describe_gpu(GpuFacts()) == "- device: unknown"
    text = describe_gpu(GpuFacts(name="X", sm_count=10, l2_bytes=40 * 2**20))
    assert "streaming multiprocessors: 10" in text and "L2 cache: 40 MiB" in text
    assert "bandwidth" not in text


def test_interpreter_timings_are_labeled(task, strategy):
    from profiling.measurement import ShapeResult, Timing

    m = Measurement(status=Status.OK, timing_kind="interpreter",
                    shapes=(ShapeResult("smoke", Timing(5.0, 5, 5, 3), Timing(1.0, 1, 1, 3)),))
    req = RealizeRequest(task=task, strategy=strategy, parent_source=GOOD_SOURCE, parent_measurement=m)
    user = realize_messages(req)[1]["content"]
    assert "interpreter time, not GPU time" in user


def test_prompt_is_bounded_for_huge_inputs(task, strategy):
    limits = PromptLimits()
    huge_parent = GOOD_SOURCE + "\n".join(f"# filler line {i} " + "y" * 80 for i in range(20_000))
    huge_error = "Traceback:\n" + "  frame\n" * 100_000 + "RuntimeError: the last line"
    huge_task = replace(task, source=task.source + "\n" + "# pad\n" * 100_000)
    m = Measurement.failure(Status.RUNTIME_ERROR, huge_error)
    stalls = tuple((f"metric_{i}", float(1000 - i)) for i in range(1000))
    m = replace(m, error=huge_error, counters=Counters(1, 1e5, dram_pct=50.0, stalls=stalls))
    big_strategy = replace(strategy, guidance=strategy.guidance + " more" * 100_000)
    req = RealizeRequest(task=huge_task, strategy=big_strategy, parent_source=huge_parent,
                         parent_measurement=m, gpu=GpuFacts(name="G", sm_count=1))
    msgs = realize_messages(req, limits)
    cap = (limits.reference_chars + limits.parent_chars + limits.error_chars
           + limits.guidance_chars + 8_000)
    assert len(huge_parent) > 1_000_000 and total_chars(msgs) < cap
    user = msgs[1]["content"]
    assert "import torch" in user and "filler line 19999" in user  # head and tail of the parent
    assert "RuntimeError: the last line" in user  # the tail of the error survives
    assert user.count("metric_") == limits.counters  # the top stall reasons only
    repair = repair_messages(req, huge_parent, m, limits)
    assert total_chars(repair) < cap + limits.parent_chars + limits.error_chars + 1_000


def test_prompt_never_depends_on_anything_but_the_request(task, strategy):
    req = RealizeRequest(task=task, strategy=strategy, parent_source=GOOD_SOURCE)
    assert realize_messages(req) == realize_messages(req)


def test_prompt_carries_the_parents_counters_and_bottleneck(task, strategy):
    from profiling.measurement import RooflineFloor, ShapeResult, Timing

    m = Measurement(
        Status.OK,
        shapes=(ShapeResult("default", Timing(0.2, 0.2, 0.2, 10), Timing(0.4, 0.4, 0.4, 10)),),
        counters=Counters(1, 190_000.0, sm_pct=28.6, dram_pct=78.5, l2_pct=88.3,
                          l2_hit_pct=49.5, occupancy_pct=71.9, registers=38, shared_bytes=32,
                          spill_bytes=0.0, block_size=256,
                          stalls=(("long_scoreboard", 18.3), ("short_scoreboard", 6.9))),
        floor=RooflineFloor(ms=0.15, bytes=1 << 28, flops=None, bound="memory"),
    )
    req = RealizeRequest(task=task, strategy=strategy, parent_source=GOOD_SOURCE,
                         parent_measurement=m, gpu=GpuFacts(name="G"))
    user = realize_messages(req)[1]["content"]
    section = user.split("## Parent measurement")[1].split("## Strategy")[0]
    assert "DRAM 78%" in section and "L2 88%" in section and "L2 hit 50%" in section
    assert "38 registers/thread" in section and "long_scoreboard 18" in section
    assert "bottleneck: DRAM-bound" in section
    assert section.count("of the physical floor") == 1  # said once, by the roofline line
    assert len(section) < 1_000


MATMUL = """
import torch
import torch.nn as nn

N = 256
{extra}

class Model(nn.Module):
    def forward(self, a, b):
        return a @ b


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
"""
PEAKS = GpuFacts(name="H", dram_gbps=4000.0, peak_tflops=800.0, peak_tflops_tf32=400.0,
                 peak_tflops_fp32=50.0)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "floor"),
    [
        # 2 * 256**3 FLOP at the IEEE fp32 peak (50 TFLOP/s) outweighs 786 KB at 4000 GB/s
        ("", "roofline floor: 0.0006711 ms (compute-bound; memory 0.0001966 ms, "
             "compute 0.0006711 ms at the fp32 peak)"),
        # opted into TF32: 400 TFLOP/s, the memory term binds
        ('PRECISION = "tf32"', "roofline floor: 0.0001966 ms (memory-bound; memory "
                               "0.0001966 ms, compute 8.389e-05 ms at the tf32 peak)"),
    ],
)  # fmt: skip
def test_prompt_floor_uses_the_peak_the_harness_floors_the_task_at(
    tmp_path: Path, catalog, extra: str, floor: str
) -> None:
    """The prompt's analysis divides the FLOPs by the same peak as the harness's floor
    (`profiling.roofline.matmul_peak`): IEEE fp32 for an fp32 task, TF32 where it opts in
    (it once divided every task by the bf16 peak)."""
    path = tmp_path / "mm.py"
    path.write_text(MATMUL.format(extra=extra))
    task = load_task(str(path))
    req = RealizeRequest(task=task, strategy=catalog.get("tiling/block_size_up"),
                         parent_source=task.module_source(), gpu=PEAKS)  # fmt: skip
    user = realize_messages(req)[1]["content"]
    assert floor in user, user
    assert "mm = mm.default(arg0_1[256, 256], arg1_1[256, 256]) -> [256, 256] float32" in user
    assert "IEEE fp32 matmul peak: 50 TFLOP/s" in user and "with TF32: 400 TFLOP/s" in user
