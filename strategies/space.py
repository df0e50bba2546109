"""The search space a deterministic realizer opens for a task, walked without running anything.

A `Node` is a kernel source reached by a chain of strategy moves from the task's
reference program (depth 0). `SpaceWalker.children` realizes every runnable
strategy on a node, as the tuner would (same request fields: the parent's
source, params and measurement, the GPU facts, seed 0), and keeps the new
sources. Walks: `breadth_first` (every kernel up to a depth) and `random_walks`
(a sample of kernels deeper in the space). Recording a landscape
(``experiments.record_landscape``) measures the nodes these walks yield.
"""

from __future__ import annotations

import hashlib
import inspect
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiling.evaluator import reference_candidate_source
from profiling.hardware import GpuFacts
from profiling.landscape import source_hash
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.types import Realizer, RealizeRequest, Strategy


@dataclass(frozen=True)
class Node:
    source: str
    hash: str
    depth: int
    chain: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


def realizer_version(realizer: Realizer) -> str:
    """A fingerprint of the code that writes the realizer's kernels: every .py file of the
    package its class lives in (the offline realizer's: `strategies.graph`) and the strategy
    catalog. A landscape recorded with another version may miss kernels this one writes."""
    digest = hashlib.sha256()
    package = Path(inspect.getfile(type(realizer))).resolve().parent
    catalog = Path(__file__).resolve().parent / "catalog.yaml"
    files = [*sorted(package.rglob("*.py")), catalog]
    for p in files:
        if "__pycache__" not in p.parts and p.is_file():
            digest.update(p.name.encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()[:12]


class SpaceWalker:
    """Expands kernels of one task with one realizer; remembers every source it saw."""

    def __init__(
        self,
        realizer: Realizer,
        task: Task,
        strategies: Sequence[Strategy],
        gpu: GpuFacts | None = None,
    ) -> None:
        self.realizer, self.task, self.strategies = realizer, task, tuple(strategies)
        self.gpu = gpu or GpuFacts()
        src = reference_candidate_source(task)
        self.root = Node(src, source_hash(src), 0)
        self.seen: set[str] = {self.root.hash}

    def move(
        self, node: Node, strategy: Strategy, measurement: Measurement | None = None
    ) -> Node | None:
        """The kernel one `strategy` move writes from `node` (None: the realizer declines), as
        the tuner asks for it (same request fields; seed 0). Remembers nothing."""
        request = RealizeRequest(
            task=self.task,
            strategy=strategy,
            parent_source=node.source,
            parent_measurement=measurement,
            parent_params=node.params,
            gpu=self.gpu,
            seed=0,
        )
        real = self.realizer.realize(request)
        if real.source is None:
            return None
        h = source_hash(real.source)
        return Node(real.source, h, node.depth + 1, (*node.chain, strategy.id), real.params)

    def children(self, node: Node, measurement: Measurement | None = None) -> list[Node]:
        """New kernels one strategy move away from `node` (sources seen before are skipped)."""
        out: list[Node] = []
        for s in self.strategies:
            child = self.move(node, s, measurement)
            if child is None or child.hash in self.seen:
                continue
            self.seen.add(child.hash)
            out.append(child)
        return out

    def breadth_first(self, depth: int) -> Iterator[Node]:
        """The reference, then every kernel reachable in 1, 2, ... `depth` moves."""
        level = [self.root]
        yield self.root
        for _ in range(depth):
            nxt: list[Node] = []
            for node in level:
                for child in self.children(node):
                    nxt.append(child)
                    yield child
            level = nxt
            if not level:
                return

    def random_walks(self, count: int, max_depth: int, seed: int = 0) -> Iterator[Node]:
        """Up to `count` distinct kernels from random walks of up to `max_depth` moves."""
        rng = random.Random(seed)
        yielded = 0
        stalls = 0
        known: dict[str, list[Node]] = {}  # children of expanded nodes, by parent hash
        while yielded < count and stalls < 50:
            node = self.root
            fresh = False
            for _ in range(rng.randint(1, max_depth)):
                kids = known.get(node.hash)
                if kids is None:
                    kids = known[node.hash] = self.children(node)
                    for kid in kids:
                        if yielded < count:
                            yielded += 1
                            fresh = True
                            yield kid
                if not kids:
                    break
                node = rng.choice(kids)
            stalls = 0 if fresh else stalls + 1
