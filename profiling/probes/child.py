"""The short-lived child that probes one candidate: ``python -m profiling.probes.child SPEC``.

It loads the task and the candidate module named in the spec (JSON, written by
`write_spec`), builds ``ModelNew`` on the GPU and runs ``warmup`` forwards so
Triton's compilation and autotuning settle. The in-process probes named in the
spec (NVML, Triton's compiled-kernel stats) run around the last warm-up
forward. (Under ``device: interpret`` the same runs on the CPU through
Triton's interpreter, for tests.) Then exactly one more forward runs between ``cudaProfilerStart`` and
``cudaProfilerStop``, inside an NVTX range ``kb_forward``: under
``ncu --profile-from-start off`` (`profiling.probes.ncu`) that forward is the
only one profiled; without ncu the range costs nothing.

A spec may list several ``sources`` for the same task (a batch: one child
start for several kernels): each is warmed up and profiled in turn, and a
separator kernel (``torch.cuda._sleep``, named ``spin_kernel``) runs inside the
profiled range after every kernel but the last, so the parent can split ncu's
rows per kernel (`profiling.probes.ncu.split_batch`).

The outcome goes to the spec's ``result`` path (`read_result`); nothing is
printed on stdout, which carries ncu's report. The parent-side helpers
`write_spec`, `child_argv`, `child_env` and `read_result` live here too; this
module imports torch only inside `run`.

Sandbox: the child runs candidate code exactly as the evaluation worker does
(`profiling.worker`): started as ``python -P`` in the spec's fresh folder
(its working directory and ``TMPDIR``, candidate sources included) with the
worker's scrubbed environment (`profiling.worker_process.child_env`), the
working directory off ``sys.path``, the static check (`profiling.static_check`)
before the candidate is imported, and the audit hook of `profiling.sandbox`
installed with that folder as the candidate's own. A refused file, network or
process event fails the child with the sandbox's reason, even when the
candidate swallowed the ``PermissionError``. ``KB_SANDBOX=0`` turns the hook
off, as for the worker.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from profiling.affinity import pin_quietly
from profiling.probes.base import ProbeRecord, ProbeTarget
from profiling.worker_process import child_env, python_command

__all__ = ["SEPARATOR", "child_argv", "child_env", "read_batches", "read_result", "run",
           "write_spec"]

SEPARATOR = "spin_kernel"  # the kernel torch.cuda._sleep launches (ATen's Sleep.cu)
SEPARATOR_CYCLES = 1000


def write_spec(
    folder: Path,
    target: ProbeTarget,
    warmup: int,
    probes: Sequence[str] = (),
    more: Sequence[ProbeTarget] = (),
) -> tuple[Path, Path]:
    """The spec file for one child and the path its result will be written to;
    ``more``: further kernels of the same task profiled by the same child."""
    spec, result = folder / "spec.json", folder / "result.json"
    spec.write_text(json.dumps({
        "task": target.task.to_dict(),
        "source": target.source,
        "sources": [target.source, *(t.source for t in more)],
        "warmup": warmup,
        "device": target.device,
        "probes": list(probes),
        "result": str(result),
    }))
    return spec, result


def child_argv(spec: Path | str) -> list[str]:
    """The command line of the child for one spec (``python -P -m profiling.probes.child``);
    run it with the spec's folder as working directory and `child_env` as environment."""
    return python_command("profiling.probes.child", str(spec))


class SandboxViolation(RuntimeError):
    """Candidate code in the child did something the sandbox refuses."""


def read_result(result: Path) -> tuple[str, tuple[ProbeRecord, ...]]:
    """(error, in-process probe records of the first kernel); error is "" when the
    child finished its forwards."""
    error, batches = read_batches(result)
    return error, batches[0] if batches else ()


def read_batches(result: Path) -> tuple[str, list[tuple[ProbeRecord, ...]]]:
    """(error, in-process probe records per kernel of the spec's ``sources``)."""
    try:
        data: Any = json.loads(result.read_text())
    except (OSError, ValueError):
        return "the probe child wrote no result", []
    batches = [tuple(ProbeRecord.from_dict(r) for r in b) for b in data.get("batches", ())]
    if data.get("ok"):
        return "", batches
    return f"the probe child failed: {data.get('error', '?')}", batches


def _listify(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


def run(spec: dict[str, Any]) -> list[tuple[ProbeRecord, ...]]:
    """Every source of the spec in turn; in-process probe records per source."""
    import torch

    from profiling.static_check import rejection
    from profiling.tasks import Task

    task = Task.from_dict(spec["task"])
    mod = task.load_module()
    sources = list(spec.get("sources") or [spec["source"]])
    for source in sources:
        why = rejection(source)
        if why:
            raise SandboxViolation(why)
    out = []
    for i, source in enumerate(sources):
        out.append(_one(spec, task, mod, source, separator=i < len(sources) - 1))
        _check_sandbox()
        if spec.get("device", "cuda") == "cuda":
            torch.cuda.empty_cache()
    return out


def enter_sandbox(folder: str) -> None:
    """What the worker does before it runs any candidate: the working directory off
    ``sys.path``, the audit hook installed, ``folder`` the candidate's own."""
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    if os.environ.get("KB_SANDBOX", "1") == "0":
        return
    from profiling import sandbox

    sandbox.install(folder)
    sandbox.set_candidate_dir(folder)
    sandbox.take_violations()


def _check_sandbox() -> None:
    from profiling import sandbox

    seen = sandbox.take_violations()
    if seen:
        more = f" (and {len(seen) - 1} more)" if len(seen) > 1 else ""
        raise SandboxViolation(seen[0] + more)


def _one(spec: dict[str, Any], task: Any, mod: Any, source: str, separator: bool) -> Any:
    import torch

    from profiling.probes.base import ForwardRun
    from profiling.probes.registry import ProbeSettings, make_probes
    from profiling.runner import CANDIDATE_MODULE
    from profiling.tasks import exec_module

    cuda = spec.get("device", "cuda") == "cuda"
    dev = torch.device("cuda" if cuda else "cpu")
    # named like the worker's candidate module, so the sandbox sees its frames
    cand = exec_module(source, CANDIDATE_MODULE)
    _check_sandbox()
    torch.manual_seed(0)
    model = cand.ModelNew(*_listify(mod.get_init_inputs()))
    if isinstance(model, torch.nn.Module):
        model = model.to(dev).eval()
    torch.manual_seed(1)
    with dev:
        inputs = [x.to(dev) if isinstance(x, torch.Tensor) else x for x in _listify(mod.get_inputs())]

    def forward() -> None:
        model(*inputs)
        if cuda:
            torch.cuda.synchronize()

    names = [n for n in spec.get("probes", ()) if n != "ncu"]
    probes = make_probes(ProbeSettings(names=tuple(names)), say=lambda line: None)
    with torch.no_grad():
        for _ in range(max(int(spec.get("warmup", 3)) - 1, 0)):
            forward()
        target = ProbeTarget(task, source, "cuda" if cuda else "interpret")
        records = probes.collect(ForwardRun(target, forward, cand), in_process=True)
        if not names:
            forward()
        probes.close()
        if cuda:
            torch.cuda.profiler.start()
            torch.cuda.nvtx.range_push("kb_forward")
        forward()
        if cuda and separator:
            torch.cuda._sleep(SEPARATOR_CYCLES)
            torch.cuda.synchronize()
        if cuda:
            torch.cuda.nvtx.range_pop()
            torch.cuda.profiler.stop()
    return records


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    pin_quietly("profiling.probes.child")  # KB_CPUS: the worker's share of the cores
    spec = json.loads(Path(args[0]).read_text())
    result = Path(spec["result"])
    t0 = time.monotonic()
    enter_sandbox(os.getcwd())
    try:
        batches = run(spec)
        _check_sandbox()
    except BaseException as e:  # reported to the parent, which returns no counters
        violations = _violations()
        error = str(e) if isinstance(e, SandboxViolation) else (
            violations[0] if violations else f"{type(e).__name__}: {e}")
        result.write_text(json.dumps({
            "ok": False,
            "error": error[:500],
            "trace": traceback.format_exc()[-2000:],
        }))
        return 1
    result.write_text(json.dumps({
        "ok": True,
        "batches": [[r.to_dict() for r in b] for b in batches],
        "seconds": time.monotonic() - t0,
    }))
    return 0


def _violations() -> list[str]:
    from profiling import sandbox

    return sandbox.take_violations()


if __name__ == "__main__":
    raise SystemExit(main())
