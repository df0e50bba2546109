"""Re-derive a recorded landscape's kernels with today's realizer, to see what a code change did.

A landscape stores each kernel with the strategy chain that reached it from the task's
reference. `rederive` replays those chains through a `SpaceWalker` (the same requests the
recording made: `SpaceWalker.move`) and classifies every recorded kernel:

- ``same``: the move, applied to its re-derived parent, writes the recorded source again;
- ``differs``: the move now writes another source (the recorded kernel is unreachable and
  its replacement unmeasured: replay misses it);
- ``masked``: the move now writes nothing (or the strategy is no longer offered);
- ``orphan``: its parent is not ``same`` (``cause`` names the status up the chain that broke it);
- ``tune``: recorded by tuning runs (depth -1), whose moves are not tracked: not re-derivable.

The verdict: ``current`` (same realizer version, nothing differs), ``restampable`` (another
version, but no kernel differs and every orphan hangs under a masked move: the file holds
exactly what today's realizer writes along its chains), ``stale`` (something differs).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from experiments.recording import TUNE_DEPTH, with_counters
from profiling.landscape import Entry, Landscape
from profiling.tasks import Task, TaskError, load_task
from strategies.catalog import Catalog
from strategies.space import Node, SpaceWalker, realizer_version
from strategies.types import Realizer, Strategy

STATUSES = ("same", "differs", "masked", "orphan", "tune")
VERDICTS = ("current", "restampable", "stale")


@dataclass(frozen=True)
class Checked:
    """One recorded kernel and what re-deriving it gave."""

    hash: str
    chain: tuple[str, ...]
    status: str  # one of STATUSES
    recorded_status: str  # the recorded measurement's status
    median_ms: float | None  # median of its recorded runtimes (ok samples)
    now_hash: str = ""  # differs: the source's hash the move writes now
    cause: str = ""  # orphan: "differs", "masked" or "unrecorded" (its parent is not in the file)


@dataclass(frozen=True)
class Check:
    path: Path | None
    task: str
    size: str
    recorded_version: str
    current_version: str
    kernels: tuple[Checked, ...]
    # the torch of the recording ("" unknown): the graph templates capture through it
    recorded_torch: str = ""

    def count(self, status: str) -> int:
        return sum(1 for k in self.kernels if k.status == status)

    @property
    def verdict(self) -> str:
        if self.count("differs") or any(k.cause != "masked" for k in self.orphans):
            return "stale"
        return "current" if self.recorded_version == self.current_version else "restampable"

    @property
    def orphans(self) -> tuple[Checked, ...]:
        return tuple(k for k in self.kernels if k.status == "orphan")

    def lost(self, limit: int = 5) -> list[tuple[Checked, int]]:
        """Up to `limit` differing or masked kernels, fastest recorded first, each with the
        number of recorded kernels below it (its orphans)."""
        broken = [k for k in self.kernels if k.status in ("differs", "masked")]
        broken.sort(key=lambda k: (k.median_ms is None, k.median_ms or 0.0, k.chain))
        return [(k, self._below(k.chain)) for k in broken[:limit]]

    def _below(self, chain: tuple[str, ...]) -> int:
        n = len(chain)
        return sum(1 for k in self.orphans if len(k.chain) > n and k.chain[:n] == chain)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path) if self.path else None,
            "task": self.task,
            "size": self.size,
            "kernels": len(self.kernels),
            **{s: self.count(s) for s in STATUSES},
            "recorded_version": self.recorded_version,
            "current_version": self.current_version,
            "verdict": self.verdict,
            "recorded_torch": self.recorded_torch,
            "lost": [
                {
                    "chain": list(k.chain),
                    "status": k.status,
                    "recorded_status": k.recorded_status,
                    "median_ms": k.median_ms,
                    "orphans": below,
                }
                for k, below in self.lost()
            ],
        }


def find_task(name: str, size: str, folders: Sequence[Path]) -> Task:
    """The task `name` at `size` ("default": the task's own) from the first folder holding
    ``<name>.py`` (TaskError, one line, when none does)."""
    for folder in folders:
        if (folder / f"{name}.py").is_file():
            return load_task(name, None if size == "default" else size, folder)
    where = ", ".join(str(f) for f in folders) or "no folder"
    raise TaskError(f"task {name!r} of the landscape is in none of: {where} (give --tasks DIR)")


def rederive(land: Landscape, task: Task, realizer: Realizer, catalog: Catalog) -> Check:
    """Walk every recorded chain again with `realizer` and classify the recorded kernels."""
    h = land.header
    strategies = catalog.runnable(task.kind, h.device)  # what the recording walked
    walker = SpaceWalker(realizer, task, strategies, h.gpu)
    by_id = {s.id: s for s in strategies}
    walked = sorted(
        (e for e in land.entries.values() if e.depth != TUNE_DEPTH),
        key=lambda e: (len(e.chain), e.chain),
    )
    by_chain: dict[tuple[str, ...], Entry] = {}
    for e in walked:
        by_chain.setdefault(e.chain, e)
    nodes: dict[tuple[str, ...], Node] = {}  # re-derived kernels whose status is "same"
    if () not in by_chain and h.reference_hash == walker.root.hash:
        nodes[()] = walker.root  # the reference itself was not recorded, but it is unchanged
    result: dict[str, Checked] = {}
    status_of: dict[tuple[str, ...], Checked] = {}
    for e in walked:
        if by_chain[e.chain] is not e:  # two recorded kernels of one chain: the second is stale
            result[e.hash] = _checked(e, "differs", now_hash=by_chain[e.chain].hash)
            continue
        if not e.chain:
            c = _checked(
                e, "same" if e.hash == walker.root.hash else "differs", now_hash=walker.root.hash
            )
            if c.status == "same":
                nodes[()] = walker.root
        else:
            c = _derive(e, walker, nodes, status_of, by_chain, by_id)
        result[e.hash] = status_of[e.chain] = c
    for e in land.entries.values():
        if e.depth == TUNE_DEPTH:
            result.setdefault(e.hash, _checked(e, "tune"))
    return Check(
        land.path,
        h.task,
        h.size,
        h.realizer_version,
        realizer_version(realizer),
        tuple(result.values()),
        h.software.get("torch", ""),
    )


def _derive(
    e: Entry,
    walker: SpaceWalker,
    nodes: dict[tuple[str, ...], Node],
    status_of: dict[tuple[str, ...], Checked],
    by_chain: dict[tuple[str, ...], Entry],
    by_id: Mapping[str, Strategy],
) -> Checked:
    parent_chain = e.chain[:-1]
    parent = nodes.get(parent_chain)
    if parent is None:
        up = status_of.get(parent_chain)
        cause = "unrecorded" if up is None else (up.cause if up.status == "orphan" else up.status)
        return _checked(e, "orphan", cause=cause)
    strategy = by_id.get(e.chain[-1])
    if strategy is None:  # the strategy is no longer offered for this kind on this device
        return _checked(e, "masked")
    # the recording's best-first walk handed the parent's measurement to the realizer
    parent_m = with_counters(by_chain[parent_chain].samples) if parent_chain in by_chain else None
    child = walker.move(parent, strategy, parent_m)
    if child is None:
        return _checked(e, "masked")
    if child.hash != e.hash:
        return _checked(e, "differs", now_hash=child.hash)
    nodes[e.chain] = child
    return _checked(e, "same")


def _checked(e: Entry, status: str, *, now_hash: str = "", cause: str = "") -> Checked:
    times = [m.runtime_ms for m in e.samples if m.ok and m.runtime_ms]
    return Checked(
        hash=e.hash,
        chain=e.chain,
        status=status,
        recorded_status=str(e.samples[0].status) if e.samples else "",
        median_ms=statistics.median(times) if times else None,
        now_hash=now_hash if status == "differs" else "",
        cause=cause,
    )
