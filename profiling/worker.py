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
import sys
from typing import Any


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

    from profiling import timing  # noqa: F401 - binds the timers before any candidate exists
    from profiling.guards import NamespaceGuard
    from profiling.runner import evaluate_request
    from profiling.state import BackendFlags, WorkerState

    flags = BackendFlags()
    flags.write(flags.ref)
    facts = _facts(args.device)
    state = WorkerState(device=args.device, facts=facts, guard=NamespaceGuard(), flags=flags)
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


if __name__ == "__main__":
    sys.exit(main())
