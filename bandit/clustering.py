"""Runtime-behaviour clustering of the frontier: the top level of the arm hierarchy.

Kernels that behave alike on the hardware (similar runtime, registers, shared
memory, block size, occupancy and counter signature) form a cluster; hucb's
first level picks a cluster, so the search keeps a few different kinds of
kernel alive (a DRAM-bound wide-block kernel and a latency-bound small-block one,
say) instead of refining one line only.

`RuntimeClusterer` implements the frontier's `Clusterer` protocol. Every
``every`` correct kernels it re-fits k-means++ (numpy, seeded, deterministic)
on the standardized features of all correct kernels so far; a kernel is assigned
to the nearest centroid. Assignments already made never change (the protocol
promises an int stable for the run): after a re-fit the new centroids take the
ids of the old ones they are nearest to, so cluster ids mean the same thing over
the run. Until ``clusters * 2`` correct kernels exist everything is cluster 0;
``clusters=1`` is today's single cluster. Unknown features (no profiler, no
Triton kernel) are imputed with the fit's mean, so a run without counters still
clusters on runtime and compiled-kernel facts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from profiling.measurement import Measurement
from profiling.probes.counters import Counters

if TYPE_CHECKING:  # type-only: the frontier module may import clusterers
    from bandit.frontier import Frontier
    from strategies.types import Candidate

FEATURES = (
    "log_runtime",
    "registers",
    "shared_kib",
    "block_size",
    "occupancy",
    "sm",
    "dram",
    "l2",
)


def features(measurement: Measurement) -> np.ndarray:
    """The feature vector of one measured kernel (NaN where unknown)."""
    runtime = measurement.runtime_ms
    counters = measurement.counters if isinstance(measurement.counters, Counters) else None
    res: Mapping[str, Any] = measurement.resources or {}

    def get(value: Any) -> float:
        return float(value) if value is not None else math.nan

    regs = counters.registers if counters and counters.registers else res.get("n_regs")
    shared = counters.shared_bytes if counters and counters.shared_bytes is not None else res.get(
        "shared"
    )
    warps = res.get("num_warps")
    block = counters.block_size if counters and counters.block_size else (
        warps * 32 if warps else None
    )
    return np.array(
        [
            math.log(runtime) if runtime and runtime > 0 else math.nan,
            get(regs),
            get(shared) / 1024 if shared is not None else math.nan,
            get(block),
            get(counters.occupancy_pct if counters else None),
            get(counters.sm_pct if counters else None),
            get(counters.dram_pct if counters else None),
            get(counters.l2_pct if counters else None),
        ],
        dtype=float,
    )


def kmeans_pp(
    x: np.ndarray, k: int, seed: int, iters: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding; (labels, centroids). Deterministic."""
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centroids = [x[int(rng.integers(n))]]
    for _ in range(1, k):
        d2 = np.min([((x - c) ** 2).sum(axis=1) for c in centroids], axis=0)
        total = d2.sum()
        if total <= 0:  # fewer distinct points than k
            break
        centroids.append(x[int(rng.choice(n, p=d2 / total))])
    c = np.array(centroids)
    labels = np.zeros(n, dtype=int)
    for _ in range(iters):
        dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for j in range(len(c)):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return labels, c


class RuntimeClusterer:
    """k-means++ over runtime behaviour, re-fitted every ``every`` correct kernels."""

    def __init__(self, clusters: int = 3, every: int = 5, seed: int = 0) -> None:
        if clusters < 1 or every < 1:
            raise ValueError(f"clusters and every must be >= 1, got {clusters}, {every}")
        self.k, self.every, self.seed = clusters, every, seed
        self._centroids: np.ndarray | None = None  # standardized space
        self._ids: list[int] = []
        self._mean = np.zeros(len(FEATURES))
        self._scale = np.ones(len(FEATURES))
        self._since_fit = 0
        self.fits = 0

    def assign(self, candidate: Candidate, measurement: Measurement, frontier: Frontier) -> int:
        if self.k == 1 or not measurement.ok or measurement.runtime_ms is None:
            return 0
        self._since_fit += 1
        rows = [features(m.measurement) for m in frontier if m.ok and m.id != "ref"]
        rows.append(features(measurement))
        if len(rows) >= 2 * self.k and (self._centroids is None or self._since_fit >= self.every):
            self._fit(np.array(rows))
        if self._centroids is None:
            return 0
        z = self._standardize(features(measurement)[None, :])[0]
        return self._ids[int(((self._centroids - z) ** 2).sum(axis=1).argmin())]

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self._mean, x)
        return (filled - self._mean) / self._scale

    def _fit(self, x: np.ndarray) -> None:
        old_raw = None if self._centroids is None else self._centroids * self._scale + self._mean
        known = ~np.isnan(x)
        counts = known.sum(axis=0)
        sums = np.where(known, x, 0.0).sum(axis=0)
        self._mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        filled = np.where(known, x, self._mean)
        std = filled.std(axis=0)
        self._scale = np.where(std > 1e-12, std, 1.0)
        _, centroids = kmeans_pp((filled - self._mean) / self._scale, self.k, self.seed)
        if old_raw is not None:  # the old centroids in the new standardized space
            self._centroids = (old_raw - self._mean) / self._scale
        self._ids = self._match(centroids)
        self._centroids = centroids
        self._since_fit = 0
        self.fits += 1

    def _match(self, new: np.ndarray) -> list[int]:
        """Ids for new centroids: the nearest old centroid's id, greedily, else a free id."""
        if self._centroids is None:
            return list(range(len(new)))
        old = self._centroids
        pairs = sorted(
            (float(((n - o) ** 2).sum()), i, j)
            for i, n in enumerate(new)
            for j, o in enumerate(old)
        )
        ids: dict[int, int] = {}
        used: set[int] = set()
        for _, i, j in pairs:
            if i not in ids and self._ids[j] not in used:
                ids[i] = self._ids[j]
                used.add(self._ids[j])
        free = (c for c in range(self.k) if c not in used)
        return [ids[i] if i in ids else next(free) for i in range(len(new))]
