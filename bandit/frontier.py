"""The pool of measured kernels: every candidate with its measurement and cluster.

The frontier answers the tuner's questions: which clusters exist (they become the
top level of the arm hierarchy), which kernel is the best in a cluster or overall
(the parent to refine), and whether a source was measured before (dedupe by a hash
of the source, so the same kernel is never evaluated twice).

Clustering sits behind the small `Clusterer` protocol. `SingleCluster` puts every
kernel into cluster 0; `bandit.clustering.RuntimeClusterer` groups kernels by
runtime behaviour (``policy.clusters``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from profiling.landscape import source_hash as source_hash  # re-exported
from profiling.measurement import Measurement
from strategies.types import Candidate

REFERENCE_ID = "ref"  # the task's reference program, measured first as the baseline


@dataclass(frozen=True)
class Member:
    """A measured kernel in the frontier."""

    candidate: Candidate
    measurement: Measurement
    cluster: int
    iteration: int  # the tuning iteration that produced it (0 = the reference)
    hash: str

    @property
    def id(self) -> str:
        return self.candidate.id

    @property
    def ok(self) -> bool:
        return self.measurement.ok

    @property
    def runtime_ms(self) -> float | None:
        return self.measurement.runtime_ms if self.measurement.ok else None

    @property
    def speedup(self) -> float | None:
        """`Measurement.speedup` (reference time / this kernel's time, interleaved in one
        worker); exactly 1.0 for the reference itself, None when not correct."""
        if self.id == REFERENCE_ID:
            return 1.0
        return self.measurement.speedup if self.measurement.ok else None


class Clusterer(Protocol):
    """Assigns a measured kernel to a cluster (an int, stable for the run)."""

    def assign(self, candidate: Candidate, measurement: Measurement, frontier: Frontier) -> int: ...


class SingleCluster:
    """Every kernel in cluster 0: a flat frontier."""

    def assign(self, candidate: Candidate, measurement: Measurement, frontier: Frontier) -> int:
        return 0


class Frontier:
    """Measured kernels in insertion order, indexed by id and by source hash."""

    def __init__(self, clusterer: Clusterer | None = None) -> None:
        self.clusterer: Clusterer = clusterer or SingleCluster()
        self._members: dict[str, Member] = {}
        self._by_hash: dict[str, Member] = {}
        self._best: dict[int, Member] = {}  # per cluster, ok members only
        self._global_best: Member | None = None

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[Member]:
        return iter(self._members.values())

    def __contains__(self, candidate_id: object) -> bool:
        return candidate_id in self._members

    def get(self, candidate_id: str) -> Member:
        return self._members[candidate_id]

    def lookup(self, source: str) -> Member | None:
        """The member with this source (up to trailing whitespace), if measured before."""
        return self._by_hash.get(source_hash(source))

    def add(
        self,
        candidate: Candidate,
        measurement: Measurement,
        iteration: int,
        cluster: int | None = None,
    ) -> Member:
        """Add a newly measured kernel; `cluster` restores a known assignment on resume."""
        if candidate.id in self._members:
            raise ValueError(f"duplicate candidate id {candidate.id!r}")
        if cluster is None:
            cluster = self.clusterer.assign(candidate, measurement, self)
        member = Member(candidate, measurement, cluster, iteration, source_hash(candidate.source))
        self._members[member.id] = member
        self._by_hash.setdefault(member.hash, member)
        if member.speedup is not None:
            if _faster(member, self._best.get(cluster)):
                self._best[cluster] = member
            if _faster(member, self._global_best):
                self._global_best = member
        return member

    def clusters(self) -> tuple[int, ...]:
        """Clusters holding at least one correct kernel (those a parent can come from)."""
        return tuple(sorted(self._best))

    def best(self, cluster: int | None = None) -> Member | None:
        """Fastest correct kernel (highest `Member.speedup`, the reference included)
        overall, or in `cluster`."""
        return self._global_best if cluster is None else self._best.get(cluster)

    def ranked(self, cluster: int | None = None, *, kernels_only: bool = False) -> list[Member]:
        """Correct kernels, fastest (highest speedup) first, overall or in `cluster`; ``kernels_only``
        leaves the reference program out (it is not a kernel to edit)."""
        pool = [
            m
            for m in self._members.values()
            if m.speedup is not None
            and (cluster is None or m.cluster == cluster)
            and not (kernels_only and m.id == REFERENCE_ID)
        ]
        return sorted(pool, key=lambda m: (-m.speedup, m.iteration))  # type: ignore[operator]


def _faster(member: Member, current: Member | None) -> bool:
    return current is None or member.speedup > current.speedup  # type: ignore[operator]
