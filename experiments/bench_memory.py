"""Peak GPU memory per evaluation, against the budget of 3x the task's own bytes.

For every bundled task (default sizes) and two KernelBench level-1 problems at
their own size, 4096 x 393216 fp32 (6.4 GB a tensor: ``19_ReLU`` with an
honest masked Triton kernel, ``23_Softmax`` with the reference as candidate),
one evaluation through a fresh `WorkerEvaluator`, reporting status, the task's
input + output bytes, the evaluation's peak allocation above what the worker
held before it (``peak``: the L2 flush buffer, allocated once per worker, is
not in it), the worker's total with the flush buffer (``+flush``), peak / (I + O),
the budget (`profiling.memory.evaluation_budget`: 3 (I + O) + a fixed 64 MiB)
and the rotation sets used. An evaluation passes when it is ``ok`` and its peak
stays within ``BUDGET`` x (I + O) + ``SLACK_BYTES`` (the fixed allowance plus
room for the reference's own temporaries, e.g. RMSNorm's ``x.pow(2)``, which are
the task's, not the harness's).

    python -m experiments.bench_memory                    # everything (GPU, ~3 min on an H200)
    python -m experiments.bench_memory --only big --json-out mem.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from experiments import TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator, reference_candidate_source
from profiling.memory import BUDGET_FACTOR, FIXED_ALLOWANCE
from profiling.tasks import bundled_task_names, load_task

BUDGET = float(BUDGET_FACTOR)
SLACK_BYTES = FIXED_ALLOWANCE + (448 << 20)  # 512 MiB in all
GB = 1e9

KB_RELU = '''"""KernelBench level 1, 19_ReLU, at its own size."""
import torch
import torch.nn as nn

batch_size = 4096
dim = 393216


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
'''
KB_SOFTMAX = KB_RELU.replace("19_ReLU", "23_Softmax").replace(
    "torch.relu(x)", "torch.softmax(x, dim=1)"
)
RELU_TRITON = """import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _relu(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs, mask=m), 0.0), mask=m)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        _relu[(triton.cdiv(n, 4096),)](x, y, n, BLOCK=4096)
        return y
"""


def flush_bytes(ev: WorkerEvaluator) -> int | None:
    """The worker's L2 flush buffer (`profiling.timing.L2Flusher`); None without a GPU."""
    if ev.device != "cuda":
        return None
    from profiling.timing import flush_bytes as l2_flush_bytes

    return l2_flush_bytes(ev.gpu_facts().l2_bytes or 0)


def evaluate(name: str, task: Any, source: str, ev: WorkerEvaluator) -> dict[str, Any]:
    t0 = time.monotonic()
    m = ev.evaluate(task, source)
    io = m.diagnostics.task_io_bytes or 0.0
    peak = m.diagnostics.peak_gpu_bytes
    flush = flush_bytes(ev)
    within = bool(m.ok and (peak is None or peak <= BUDGET * io + SLACK_BYTES))
    return {
        "task": name,
        "size": task.size,
        "status": m.status.value,
        "error": m.error,
        "io_gb": io / GB,
        "peak_gb": peak / GB if peak is not None else None,
        "flush_gb": flush / GB if flush is not None else None,
        "peak_with_flush_gb": (peak + flush) / GB if peak is not None and flush else None,
        "peak_over_io": peak / io if peak and io else None,
        "budget_gb": (BUDGET * io + FIXED_ALLOWANCE) / GB,
        "timing_sets": m.diagnostics.timing_sets,
        "speedup": m.speedup,
        "wall_s": time.monotonic() - t0,
        "within_budget": within,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="experiments.bench_memory", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--only", choices=("all", "bundled", "big"), default="all")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)
    settings = EvalSettings(
        device=args.device,
        trials=3,
        warmup_ms=5,
        rep_ms=20,
        timeout_s=300,
        remeasure_speedup=0,
        sanitize="off",  # memory of the evaluation itself; the sanitizer child is separate
        baseline_compile=False,
    )
    rows: list[dict[str, Any]] = []
    with WorkerEvaluator(settings) as ev:
        _run(args, ev, rows)
    ok = all(r["within_budget"] for r in rows)
    print(f"all ok and within {BUDGET:g}x (I+O) + {SLACK_BYTES >> 20} MiB: {'yes' if ok else 'NO'}"
          " (peak: above the worker's baseline, which holds the L2 flush buffer)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2))
    return 0 if ok else 1


def _run(args: argparse.Namespace, ev: WorkerEvaluator, rows: list[dict[str, Any]]) -> None:
    if args.only in ("all", "bundled"):
        for name in bundled_task_names(TASKS_DIR):
            t = load_task(name, None if args.device == "cuda" else "smoke", TASKS_DIR)
            rows.append(evaluate(name, t, reference_candidate_source(t), ev))
            _print_row(rows[-1])
    if args.only in ("all", "big"):
        with tempfile.TemporaryDirectory() as d:
            for fname, src, cand in (
                ("19_ReLU", KB_RELU, RELU_TRITON),
                ("23_Softmax", KB_SOFTMAX, None),
            ):
                path = Path(d) / f"{fname}.py"
                path.write_text(src)
                size = None if args.device == "cuda" else "batch_size=8,dim=1024"
                t = load_task(str(path), size)
                rows.append(evaluate(fname, t, cand or reference_candidate_source(t), ev))
                _print_row(rows[-1])


def _print_row(r: dict[str, Any]) -> None:
    def f(v: Any, spec: str) -> str:
        return format(v, spec) if isinstance(v, int | float) else "-".rjust(int(spec.split(".")[0]))

    if not hasattr(_print_row, "header"):
        print(
            f"{'task':<22}{'status':<14}{'I+O GB':>9}{'peak GB':>9}{'+flush':>9}{'peak/IO':>9}"
            f"{'budget':>9}{'sets':>6}{'wall s':>8}  ok"
        )
        _print_row.header = True  # type: ignore[attr-defined]
    print(
        f"{r['task']:<22}{r['status']:<14}{f(r['io_gb'], '9.3f')}{f(r['peak_gb'], '9.3f')}"
        f"{f(r['peak_with_flush_gb'], '9.3f')}{f(r['peak_over_io'], '9.2f')}"
        f"{f(r['budget_gb'], '9.3f')}{f(r['timing_sets'], '6.0f')}{f(r['wall_s'], '8.1f')}"
        f"  {'yes' if r['within_budget'] else 'NO ' + r['error'][:80]}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
