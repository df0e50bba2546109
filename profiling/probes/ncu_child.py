"""The short-lived child Nsight Compute profiles: one forward of one candidate.

``python -m profiling.probes.ncu_child SPEC.json`` loads the task and the
candidate module named in the spec, builds ``ModelNew`` on the GPU, runs
``warmup`` forwards (so Triton's compilation and autotuning settle outside the
profiled range), then runs exactly one forward between ``cudaProfilerStart``
and ``cudaProfilerStop`` inside an NVTX range ``kb_forward``; the parent runs
ncu with ``--profile-from-start off`` so only that forward is profiled. The
outcome (``{"ok": true}`` or ``{"ok": false, "error": ...}``) goes to the
spec's ``result`` path; nothing is printed on stdout, which carries ncu's CSV.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any


def _listify(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


def run(spec: dict[str, Any]) -> None:
    import torch

    from profiling.tasks import Task, exec_module

    task = Task.from_dict(spec["task"])
    dev = torch.device("cuda")
    mod = task.load_module()
    cand = exec_module(spec["source"], "kb_probe_candidate")
    torch.manual_seed(0)
    init = _listify(mod.get_init_inputs())
    model = cand.ModelNew(*init)
    if isinstance(model, torch.nn.Module):
        model = model.to(dev).eval()
    torch.manual_seed(1)
    with dev:
        inputs = [x.to(dev) if isinstance(x, torch.Tensor) else x for x in _listify(mod.get_inputs())]
    with torch.no_grad():
        for _ in range(max(int(spec.get("warmup", 3)), 1)):
            model(*inputs)
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        torch.cuda.nvtx.range_push("kb_forward")
        model(*inputs)
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_pop()
        torch.cuda.profiler.stop()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    result = Path(spec["result"])
    try:
        run(spec)
    except BaseException as e:  # reported to the parent, which returns no counters
        tail = traceback.format_exc().strip().splitlines()[-1:]
        result.write_text(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:500],
                                      "trace": tail}))
        return 1
    result.write_text(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
