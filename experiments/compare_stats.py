"""Statistics behind ``experiments.compare``: per-run curves in, per-policy summaries out.

Everything here is pure (numpy/scipy, no MLflow): `RunCurve` holds one tuning
run's per-iteration best speedup and cumulative costs; `summarize` turns the
runs of one task into a `PolicySummary` per policy: the final best speedup's
mean and 95 % t-interval over seeds, what it took to reach 95 % of the best
speedup any run of the task found (iterations, tokens, USD, seconds; runs that
never got there are counted, not averaged), and a two-sided Mann-Whitney U
test of the final best speedups against the baseline policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

TARGET_FRACTION = 0.95


@dataclass(frozen=True)
class RunCurve:
    run_id: str
    task: str
    policy: str
    seed: int
    best: np.ndarray  # best speedup after iteration i+1
    tokens: np.ndarray  # cumulative tokens after iteration i+1
    usd: np.ndarray
    seconds: np.ndarray  # wall seconds of the run after iteration i+1
    families: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # pulls, usd
    misses: int = 0  # replay: iterations whose kernel was not in the landscape

    @property
    def final(self) -> float:
        return float(self.best[-1]) if len(self.best) else 1.0

    def reach(self, target: float) -> int | None:
        """Index of the first iteration whose best speedup is >= target (None: never)."""
        hit = np.nonzero(self.best >= target)[0]
        return int(hit[0]) if len(hit) else None


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def fmt(self, digits: int = 3) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "-"
        if self.n == 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class PolicySummary:
    task: str
    policy: str
    runs: int
    best: Interval  # final best speedup over seeds
    reached: int  # runs that got to the task's 95 % target
    iterations: Interval  # to reach the target (runs that reached it)
    tokens: Interval
    usd: Interval
    seconds: Interval
    p_value: float | None  # Mann-Whitney U vs the baseline (None: the baseline itself)
    misses: float  # mean not_recorded iterations per run


def interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean and two-sided t-interval; a single value is its own interval."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1 or float(x.std(ddof=1)) == 0.0:
        return Interval(mean, mean, mean, n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value (None when either side is empty or all values tie)."""
    if len(a) == 0 or len(b) == 0:
        return None
    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def task_target(runs: Sequence[RunCurve], fraction: float = TARGET_FRACTION) -> float:
    """95 % of the best speedup any run of the task found."""
    return fraction * max((r.final for r in runs), default=1.0)


def summarize(runs: Sequence[RunCurve], baseline: str = "hucb") -> list[PolicySummary]:
    """One `PolicySummary` per policy among `runs` (all of one task), baseline first."""
    if not runs:
        return []
    task = runs[0].task
    target = task_target(runs)
    by_policy: dict[str, list[RunCurve]] = {}
    for r in runs:
        by_policy.setdefault(r.policy, []).append(r)
    base = [r.final for r in by_policy.get(baseline, [])]
    order = sorted(by_policy, key=lambda p: (p != baseline, p))
    out = []
    for policy in order:
        rs = by_policy[policy]
        hits = [(r, r.reach(target)) for r in rs]
        hits = [(r, i) for r, i in hits if i is not None]
        out.append(
            PolicySummary(
                task=task,
                policy=policy,
                runs=len(rs),
                best=interval([r.final for r in rs]),
                reached=len(hits),
                iterations=interval([i + 1 for _, i in hits]),
                tokens=interval([float(r.tokens[i]) for r, i in hits]),
                usd=interval([float(r.usd[i]) for r, i in hits]),
                seconds=interval([float(r.seconds[i]) for r, i in hits]),
                p_value=None if policy == baseline else mann_whitney([r.final for r in rs], base),
                misses=float(np.mean([r.misses for r in rs])),
            )
        )
    return out


def normalized_finals(runs: Sequence[RunCurve]) -> dict[str, list[float]]:
    """Per policy, every run's final best speedup over its task's best (pools tasks)."""
    best_of: dict[str, float] = {}
    for r in runs:
        best_of[r.task] = max(best_of.get(r.task, 0.0), r.final)
    out: dict[str, list[float]] = {}
    for r in runs:
        out.setdefault(r.policy, []).append(r.final / best_of[r.task] if best_of[r.task] else 0.0)
    return out


def pooled_tests(runs: Sequence[RunCurve], baseline: str = "hucb") -> dict[str, tuple[Interval, float | None]]:
    """Across tasks: each policy's normalized final best (mean, interval) and p vs the baseline."""
    finals = normalized_finals(runs)
    base = finals.get(baseline, [])
    return {
        p: (interval(v), None if p == baseline else mann_whitney(v, base))
        for p, v in sorted(finals.items(), key=lambda kv: (kv[0] != baseline, kv[0]))
    }


def padded(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Stack curves of unequal length, carrying each one's last value forward."""
    n = max((len(c) for c in curves), default=0)
    return np.array([np.pad(c, (0, n - len(c)), mode="edge") if len(c) else np.ones(n) for c in curves])


def band(curves: Sequence[np.ndarray], confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-step mean and t-interval of several curves (padded to the longest)."""
    m = padded(curves)
    mean = m.mean(axis=0)
    if len(m) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(m) - 1) * m.std(axis=0, ddof=1) / math.sqrt(len(m))
    return mean, mean - half, mean + half
