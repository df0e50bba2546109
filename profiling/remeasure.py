"""Re-measuring a suspiciously large speedup from outside the worker.

The worker's timings come from CUDA events read by code that shares a process
with the candidate. When a speedup crosses ``EvalSettings.remeasure_speedup``,
the parent starts a fresh child (``python -m profiling.remeasure``: scrubbed
environment, its own scratch directory, the sandbox, no state left by earlier
candidates) that builds reference and candidate the same way and sums the
durations of the GPU kernels each launches per call, as recorded by
``torch.profiler`` (CUPTI, outside any Python the candidate could patch; the
namespace guard checks the profiler was not swapped). Under the interpreter it
uses wall time per call. The speedup counts only if the child's figure is at
least ``1 / CONFIRM_FACTOR`` of the worker's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from profiling.affinity import pin_quietly
from profiling.best_so_far import BestSoFar
from profiling.errors import trim
from profiling.measurement import Measurement, Status
from profiling.tasks import SOURCE_DIR_ENV, Task

CONFIRM_FACTOR = 2.0
CALLS = 20

MODES = ("best", "always")


def check_mode(mode: str) -> str:
    """`mode` when it is one of `MODES` (``EvalSettings.remeasure``), else a one-line ValueError."""
    if mode not in MODES:
        raise ValueError(f"remeasure must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


class RemeasurePolicy:
    """Which ``ok`` measurements are re-measured from outside: a speedup over
    ``threshold`` (0: none), and with ``best`` only one over every re-measured speedup of
    its task so far (the one that would count as the new best); ``always`` every one."""

    def __init__(self, mode: str, threshold: float) -> None:
        self.mode, self.threshold = check_mode(mode), threshold
        self._bar = BestSoFar()  # per task: the best speedup that stood outside

    def wanted(self, task: Task, m: Measurement) -> bool:
        if not (m.ok and self.threshold and (m.speedup or 0.0) > self.threshold):
            return False
        return self.mode == "always" or self._bar.beats(task, m)

    def stood(self, task: Task, m: Measurement) -> None:
        """``m`` after its re-measure: an ``ok`` one raises its task's bar."""
        if m.ok:
            self._bar.stood(task, m)


@dataclass(frozen=True)
class Outside:
    ref_ms: float
    cand_ms: float
    kind: str  # "kernels" (profiler) or "wall"

    @property
    def speedup(self) -> float:
        return self.ref_ms / self.cand_ms if self.cand_ms > 0 else float("inf")


def confirmation_error(
    inside: float, outside: Outside, factor: float = CONFIRM_FACTOR
) -> str | None:
    """Why the worker's speedup does not stand, or None when the child confirms it."""
    if outside.speedup * factor >= inside:
        return None
    return (
        f"speedup {inside:.3g}x not confirmed outside the worker: {outside.speedup:.3g}x from "
        f"{'profiled kernel durations' if outside.kind == 'kernels' else 'wall time'} in a fresh process"
    )


def remeasure(
    task: Mapping[str, Any], source: str, device: str, env: Mapping[str, str], timeout_s: float
) -> Outside | str:
    """Run the child; an `Outside` figure, or the text of why there is none."""
    with tempfile.TemporaryDirectory(prefix="kb-remeasure-") as scratch:
        req = os.path.join(scratch, "request.json")
        with open(req, "w") as f:
            json.dump({"task": dict(task), "source": source, "device": device}, f)
        cmd = [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else [])]
        cmd += ["-m", "profiling.remeasure", req]
        try:
            done = subprocess.run(
                cmd,
                cwd=scratch,
                env={**env, "TMPDIR": scratch, SOURCE_DIR_ENV: os.path.join(scratch, "src")},
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"re-measurement timed out after {timeout_s:g} s"
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"re-measurement failed: {tail[:200]}"
        d = json.loads(lines[-1])
        if "error" in d:
            return f"re-measurement failed: {d['error']}"
        return Outside(float(d["ref_ms"]), float(d["cand_ms"]), str(d["kind"]))


def confirmed(
    m: Measurement,
    task: Mapping[str, Any],
    source: str,
    device: str,
    env: Mapping[str, str],
    timeout_s: float,
) -> Measurement:
    """``m`` with the outside figure recorded, or rejected when the child does not confirm it."""
    out = remeasure(task, source, device, env, timeout_s)
    speedup = m.speedup or 0.0
    if isinstance(out, str):
        why = f"speedup {speedup:.3g}x not confirmed outside the worker: {out}"
        return replace(m, status=Status.REJECTED, error=trim(why))
    diag = replace(m.diagnostics, speedup_outside=out.speedup)
    err = confirmation_error(speedup, out)
    if err:
        return replace(m, status=Status.REJECTED, error=trim(err), diagnostics=diag)
    return replace(m, diagnostics=diag)


def _per_call_ms(fn: Any, inputs: list[Any], cuda: bool) -> tuple[float, str]:
    import torch

    for _ in range(3):
        fn(*inputs)
    if not cuda:
        t0 = time.perf_counter()
        for _ in range(CALLS):
            fn(*inputs)
        return (time.perf_counter() - t0) * 1e3 / CALLS, "wall"
    torch.cuda.synchronize()
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(CALLS):
            fn(*inputs)
        torch.cuda.synchronize()
    total_us = 0.0
    for e in prof.events():
        if e.device_type.name == "CUDA":
            total_us += (
                e.device_time_total if hasattr(e, "device_time_total") else e.cuda_time_total
            )
    return total_us / 1e3 / CALLS, "kernels"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="profiling.remeasure")
    ap.add_argument("request")
    args = ap.parse_args(argv)
    pin_quietly("profiling.remeasure")  # KB_CPUS: the worker's share of the cores
    with open(args.request) as f:
        req = json.load(f)
    if req["device"] == "interpret":
        os.environ["TRITON_INTERPRET"] = "1"
    import torch

    from profiling import sandbox
    from profiling.guards import NamespaceGuard
    from profiling.runner import CANDIDATE_MODULE
    from profiling.state import copy_matching_state, listify, seed_all, to_device
    from profiling.tasks import Task, exec_module

    guard = NamespaceGuard()
    cuda = req["device"] == "cuda"
    dev = torch.device("cuda" if cuda else "cpu")
    sandbox.install(os.getcwd())
    sandbox.set_candidate_dir(os.getcwd())
    task = Task.from_dict(req["task"])
    try:
        mod = exec_module(task.module_source(), f"kb_task_{task.name}", task.path)
        cand = exec_module(req["source"], CANDIDATE_MODULE)
        with torch.no_grad():
            seed_all(0)
            init = listify(mod.get_init_inputs())
            seed_all(0)
            ref = mod.Model(*init)
            seed_all(0)
            new = cand.ModelNew(*init)
            if isinstance(ref, torch.nn.Module):
                ref = ref.to(dev).eval()
            if isinstance(new, torch.nn.Module):
                if isinstance(ref, torch.nn.Module):
                    copy_matching_state(ref, new)
                new = new.to(dev).eval()
            seed_all(1)
            inputs = to_device(listify(mod.get_inputs()), dev)
            ref_ms, kind = _per_call_ms(
                ref, [x.clone() if hasattr(x, "clone") else x for x in inputs], cuda
            )
            cand_ms, _ = _per_call_ms(new, inputs, cuda)
        patched = guard.check() or (sandbox.take_violations() or [None])[0]
        if patched:
            print(json.dumps({"error": patched}))
            return 0
        print(json.dumps({"ref_ms": ref_ms, "cand_ms": cand_ms, "kind": kind}))
    except Exception as e:  # the candidate's failure here is reported, not raised
        print(json.dumps({"error": f"{type(e).__name__}: {str(e)[:200]}"}))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
