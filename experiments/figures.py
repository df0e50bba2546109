"""The run's figures (``figures/*.png``); a figure without data says why.

- ``reward.png``: reward per iteration (bars) and the best speedup so far (step line);
- ``cost_per_arm.png``: realizer tokens and USD per strategy.

When a figure has nothing to show (no iteration ran; a realizer that spends no
tokens, like the offline one) it is drawn as a short sentence saying so, never as
empty axes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from bandit.records import ArmSummary, IterationRecord

REWARD_PNG = "reward.png"
COST_PNG = "cost_per_arm.png"


def no_data_reason(
    records: Sequence[IterationRecord], by_strategy: Mapping[str, ArmSummary]
) -> dict[str, str]:
    """Why each figure has nothing to draw (absent: it has data)."""
    why: dict[str, str] = {}
    if not records:
        why[REWARD_PNG] = "no iteration ran, so there is no reward to plot"
        why[COST_PNG] = "no iteration ran, so the realizer spent nothing"
        return why
    tokens = sum(s.tokens for s in by_strategy.values())
    usd = sum(s.usd for s in by_strategy.values())
    if tokens == 0 and usd == 0:
        why[COST_PNG] = (
            f"the realizer spent no tokens and no USD in {len(records)} iterations "
            "(the offline realizer generates kernels without an LLM)"
        )
    return why


def write_figures(
    records: Sequence[IterationRecord], by_strategy: Mapping[str, ArmSummary], folder: Path
) -> list[Path]:
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    why = no_data_reason(records, by_strategy)
    paths: list[Path] = []

    path = folder / REWARD_PNG
    if REWARD_PNG in why:
        _message(plt, "reward per iteration", why[REWARD_PNG], path)
    else:
        its = [r.iteration for r in records]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(its, [r.reward for r in records], color="tab:blue", alpha=0.6, label="reward")
        ax.set_xlabel("iteration")
        ax.set_ylabel("reward (gain over the parent)")
        ax2 = ax.twinx()
        ax2.step(its, [r.best_speedup for r in records], where="post", color="tab:red")
        ax2.set_ylabel("best speedup so far (x reference)")
        ax.set_title("reward per iteration and best speedup so far")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    paths.append(path)

    path = folder / COST_PNG
    if COST_PNG in why:
        _message(plt, "realizer cost per strategy", why[COST_PNG], path)
    else:
        names = list(by_strategy)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 0.35 * len(names) + 1.5), sharey=True)
        a1.barh(names, [by_strategy[n].tokens for n in names], color="tab:purple")
        a1.set_xlabel("tokens")
        a2.barh(names, [by_strategy[n].usd for n in names], color="tab:green")
        a2.set_xlabel("USD")
        fig.suptitle("realizer cost per strategy")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    paths.append(path)
    return paths


def _message(plt, title: str, text: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    import textwrap

    fig = plt.figure(figsize=(7, 2))
    fig.text(0.5, 0.72, title, ha="center", va="center", fontsize=12, weight="bold")
    fig.text(0.5, 0.38, textwrap.fill(text, 80), ha="center", va="center", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)
