"""The evaluation worker: a child process that runs candidates.

Started by :class:`profiling.evaluator.WorkerEvaluator` as
``python -m profiling.worker --fd N --device cuda|interpret`` with a scrubbed
environment, in its own process group, stdout/stderr going to a log file. It
talks to the parent only through the inherited socket ``N`` (JSON frames, see
:mod:`profiling.channel`).

Requests: ``{"op": "evaluate", "nonce", "task", "extra_tasks", "source",
"settings", "seed"}`` → ``{"nonce", "measurement", "restart"}``; ``{"op":
"exit"}``. On start it sends ``{"op": "hello", "pid", "device", "facts"}``.
When ``restart`` is true (poisoned CUDA context, patched internals, leftover
threads) the worker exits right after replying and the parent starts a fresh
one for the next candidate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from profiling.errors import Verdict, trim
from profiling.measurement import HarnessDiagnostics, Measurement, Status
from profiling.tasks import Task

if TYPE_CHECKING:
    from profiling.state import WorkerState


def _setup_device(device: str) -> None:
    # Must happen before triton is imported anywhere in this process.
    if device == "interpret":
        os.environ["TRITON_INTERPRET"] = "1"
    else:
        os.environ.pop("TRITON_INTERPRET", None)


def _facts(device: str) -> Any:
    from profiling.hardware import INTERPRETER_NAME, GpuFacts, gpu_facts

    if device == "interpret":
        return GpuFacts(name=INTERPRETER_NAME)
    return gpu_facts()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="profiling.worker")
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--device", choices=("cuda", "interpret"), required=True)
    args = ap.parse_args(argv)
    _setup_device(args.device)
    from profiling.affinity import pin_quietly

    pin_quietly("profiling.worker")  # KB_CPUS: its share of the cores, before torch's threads

    from profiling.channel import Channel, ChannelClosed

    chan = Channel.from_fd(args.fd)
    import torch

    with contextlib.suppress(ImportError):
        import triton  # noqa: F401 - imported now so the interpreter flag takes effect
    if args.device == "cuda":
        if not torch.cuda.is_available():
            chan.send({"op": "hello", "error": "no CUDA device visible to the worker"})
            return 1
        torch.cuda.init()

    # a module the candidate writes into a working directory must never shadow a library
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    from profiling import (
        sandbox,
        timing,  # noqa: F401 - binds the timers before any candidate exists
    )
    from profiling.guards import NamespaceGuard
    from profiling.state import BackendFlags, WorkerState

    flags = BackendFlags()
    flags.write(flags.ref)
    facts = _facts(args.device)
    state = WorkerState(device=args.device, facts=facts, guard=NamespaceGuard(), flags=flags)
    if os.environ.get("KB_SANDBOX", "1") != "0":
        sandbox.install(cwd)
    chan.send({"op": "hello", "pid": os.getpid(), "device": args.device, "facts": facts.to_dict()})

    while True:
        try:
            req = chan.recv()
        except ChannelClosed:
            break
        op = req.get("op")
        if op == "exit":
            break
        if op == "ping":
            chan.send({"op": "pong", "nonce": req.get("nonce")})
            continue
        if op != "evaluate":
            continue
        m, restart = evaluate_request(state, req)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            chan.send({"nonce": req.get("nonce"), "measurement": m.to_dict(), "restart": restart})
        except ChannelClosed:
            break
        if restart:
            break
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: candidate atexit hooks or stray threads must not block exit.
    os._exit(0)


def evaluate_request(state: WorkerState, req: Mapping[str, Any]) -> tuple[Measurement, bool]:
    """Run one evaluation request; returns the measurement and whether to restart."""
    from profiling import sandbox
    from profiling.runner import Evaluation  # imports torch: only after the flags are set
    from profiling.state import RunSettings
    t0 = time.perf_counter()
    task = Task.from_dict(req["task"])
    extras = [Task.from_dict(d) for d in req.get("extra_tasks", [])]
    probes = [Task.from_dict(d) for d in req.get("probe_tasks", [])]
    settings = RunSettings.from_dict(req.get("settings", {}))
    ev = Evaluation(state, task, req["source"], settings, int(req.get("seed", 0)), extras, probes)
    kind = "gpu" if state.cuda else "interpreter"
    restart = False
    home = os.getcwd()
    cand_dir = tempfile.mkdtemp(prefix="candidate-", dir=home)
    try:
        os.chdir(cand_dir)  # each candidate starts in a fresh, empty working directory
        sandbox.set_candidate_dir(cand_dir)
        sandbox.take_violations()
        sandbox.limit_cpu(settings.cpu_limit_s)
        m = ev.run()
        restart = ev.restart_after
    except Verdict as v:
        restart = v.restart or ev.restart_after
        m = Measurement.failure(
            v.status,
            v.error,
            device=state.facts.name,
            timing_kind=kind,
            trials=ev.trials_done,
            max_rel_error=ev.max_rel if ev.trials_done else None,
            diagnostics=HarnessDiagnostics.from_dict(ev.counters),
        )
    except BaseException as e:
        print(traceback.format_exc(), file=sys.stderr)
        restart = True
        m = Measurement.failure(
            Status.RUNTIME_ERROR,
            trim(f"internal harness error: {type(e).__name__}: {e}"),
            device=state.facts.name,
            timing_kind=kind,
        )
    finally:
        sandbox.set_candidate_dir("")
        os.chdir(home)
        shutil.rmtree(cand_dir, ignore_errors=True)
        state.flags.write(state.flags.ref)
        if not restart and state.guard.changed():
            state.guard.restore(state.guard.changed())
            restart = True
    return replace(m, wall_s=time.perf_counter() - t0), restart


if __name__ == "__main__":
    sys.exit(main())
