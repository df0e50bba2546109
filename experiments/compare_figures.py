"""Figures of ``experiments.compare``: best-so-far curves, simple regret, cost per arm (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.compare_stats import RunCurve, band, padded

BEST_SO_FAR = "best_so_far.png"
SIMPLE_REGRET = "simple_regret.png"
COST_PER_ARM = "cost_per_arm.png"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _by(runs: Sequence[RunCurve], key: str) -> dict[str, list[RunCurve]]:
    out: dict[str, list[RunCurve]] = {}
    for r in runs:
        out.setdefault(str(getattr(r, key)), []).append(r)
    return dict(sorted(out.items()))


def best_so_far(runs: Sequence[RunCurve], path: Path) -> Path:
    """One panel per task: each policy's mean best speedup per iteration, 95 % band."""
    plt = _plt()
    tasks = _by(runs, "task")
    cols = min(3, len(tasks)) or 1
    rows = (len(tasks) + cols - 1) // cols or 1
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, (task, trs) in zip(axes.flat, tasks.items(), strict=False):
        for policy, prs in _by(trs, "policy").items():
            mean, low, high = band([r.best for r in prs])
            x = np.arange(1, len(mean) + 1)
            ax.plot(x, mean, label=f"{policy} (n={len(prs)})")
            ax.fill_between(x, low, high, alpha=0.2)
        ax.set_title(task)
        ax.set_xlabel("iteration")
        ax.set_ylabel("best speedup")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def simple_regret(runs: Sequence[RunCurve], path: Path) -> Path:
    """Per policy, over tasks and seeds: 1 - best so far / the task's best found (log scale)."""
    plt = _plt()
    best_of: dict[str, float] = {}
    for r in runs:
        best_of[r.task] = max(best_of.get(r.task, 0.0), r.final)
    fig, ax = plt.subplots(figsize=(6, 4))
    for policy, prs in _by(runs, "policy").items():
        regret = [1.0 - r.best / best_of[r.task] for r in prs if best_of[r.task] > 0]
        m = padded(regret)
        mean = np.maximum(m.mean(axis=0), 1e-4)
        ax.plot(np.arange(1, len(mean) + 1), mean, label=policy)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("simple regret (1 - best / task best)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cost_per_arm(runs: Sequence[RunCurve], path: Path) -> Path:
    """Per policy, mean pulls (and USD, when any was spent) of each strategy family per run."""
    plt = _plt()
    policies = _by(runs, "policy")
    families = sorted({f for r in runs for f in r.families})
    spent = any(v[1] > 0 for r in runs for v in r.families.values())
    panels = 2 if spent else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4), squeeze=False)
    width = 0.8 / max(len(policies), 1)
    for col, (what, idx) in enumerate([("pulls", 0), ("USD", 1)][:panels]):
        ax = axes[0][col]
        for i, (policy, prs) in enumerate(policies.items()):
            values = [np.mean([r.families.get(f, (0.0, 0.0))[idx] for r in prs]) for f in families]
            ax.bar(np.arange(len(families)) + i * width, values, width, label=policy)
        ax.set_xticks(np.arange(len(families)) + 0.4 - width / 2, families, rotation=30, fontsize=8)
        ax.set_ylabel(f"mean {what} per run")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def all_figures(runs: Sequence[RunCurve], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        best_so_far(runs, folder / BEST_SO_FAR),
        simple_regret(runs, folder / SIMPLE_REGRET),
        cost_per_arm(runs, folder / COST_PER_ARM),
    ]
