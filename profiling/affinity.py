"""CPU sets for work that shares a host: one disjoint set of cores per GPU.

A candidate of a few short kernels is timed with CUDA events around its Python launches;
when other work on the same host takes every core (another GPU's ``torch.compile`` baseline
and its compile workers, Triton and ptxas compiles), those launches stall and the GPU waits
inside the timed region. ``KB_CPUS`` (e.g. ``0-15``) names a process's share: the evaluation
worker (`profiling.worker`), the re-measure and probe children (`profiling.remeasure`,
`profiling.probes.child`: they get the worker's environment) and ``experiments.tune`` apply
it to themselves before anything starts, and what they start inherits it.
``experiments.bench_kernelbench --gpus N`` gives each GPU's problem a share; a run with
several local GPU workers gives each worker one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping

ENV = "KB_CPUS"


def parse_cpus(text: str) -> set[int]:
    """``"0-3,8"`` -> ``{0, 1, 2, 3, 8}``; ValueError (one line) on anything else."""
    cpus: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            a, b = -1, -1
        if a < 0 or b < a:
            raise ValueError(f"{ENV} wants CPU numbers and ranges like 0-3,8; got {text!r}")
        cpus.update(range(a, b + 1))
    return cpus


def format_cpus(cpus: Iterable[int]) -> str:
    """``{0, 1, 2, 3, 8}`` -> ``"0-3,8"`` (what `parse_cpus` reads back)."""
    runs: list[list[int]] = []
    for c in sorted(set(cpus)):
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def available() -> set[int]:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def split_cpus(cpus: Iterable[int], n: int) -> list[set[int]]:
    """``n`` disjoint sets of consecutive cores, as even as they go; [] when there are
    fewer cores than sets (nothing to pin then)."""
    ordered = sorted(set(cpus))
    if n < 1 or len(ordered) < n:
        return []
    size, extra = divmod(len(ordered), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(set(ordered[start:end]))
        start = end
    return out


def pin_quietly(prog: str) -> set[int] | None:
    """`pin_from_env` for a child the harness started (the evaluation worker, the re-measure
    and probe children): ``KB_CPUS`` came from the harness, so a share it cannot apply is a
    line on stderr, not a failed evaluation."""
    try:
        return pin_from_env()
    except ValueError as e:
        print(f"{prog}: not pinned: {e}", file=sys.stderr)
        return None


def pin_from_env(env: Mapping[str, str] | None = None) -> set[int] | None:
    """Restrict this process to the cores ``KB_CPUS`` names (None when it is unset);
    ValueError (one line) when it names none this process may use."""
    text = (os.environ if env is None else env).get(ENV, "").strip()
    if not text:
        return None
    cpus = parse_cpus(text)
    usable = cpus & available()
    if not usable:
        raise ValueError(f"{ENV}={text} names no CPU this process may use "
                         f"({format_cpus(available())})")  # fmt: skip
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError(f"{ENV} is set but this platform cannot pin a process to CPUs")
    os.sched_setaffinity(0, usable)
    return usable
