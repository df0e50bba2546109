"""What a finished run leaves behind: files in the run directory and a summary table.

`RunDirWriter` (an observer) writes ``best_kernel.py`` (a KernelBench ``ModelNew``
module), ``candidates.jsonl`` (every measured kernel, as the run log writes it:
source, status, speedup, measurement, realizer cost) and ``figures/`` (reward per iteration with the best speedup so
far; tokens and USD per strategy) when the run ends. `summary_tables` renders the
final rich tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from rich.table import Table

from bandit.records import IterationRecord, RunStart, TuneResult
from bandit.runlog import candidate_dict, dumps

BEST_KERNEL = "best_kernel.py"
CANDIDATES = "candidates.jsonl"
FIGURES = "figures"


def write_candidates(result: TuneResult, path: Path) -> None:
    """Every measured kernel, one JSON line each, as the run log writes them."""
    with path.open("w", encoding="utf-8") as fh:
        for member in result.members:
            fh.write(dumps(candidate_dict(member)) + "\n")


def write_best_kernel(result: TuneResult, path: Path) -> None:
    best = result.best
    head = (
        f"# kernel-bandit best kernel: {best.id} "
        f"(strategy {best.candidate.strategy_id or 'reference'}, "
        f"{result.best_speedup:.3f}x over the reference, {best.measurement.device or 'device'})\n"
    )
    path.write_text(head + best.candidate.source, encoding="utf-8")


def write_figures(
    records: tuple[IterationRecord, ...], result: TuneResult, folder: Path
) -> list[Path]:
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    its = [r.iteration for r in records]

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(its, [r.reward for r in records], color="tab:blue", alpha=0.6, label="reward")
    ax.set_xlabel("iteration")
    ax.set_ylabel("reward")
    ax2 = ax.twinx()
    ax2.step(its, [r.best_speedup for r in records], where="post", color="tab:red", label="best")
    ax2.set_ylabel("best speedup so far (x)")
    ax.set_title("reward per iteration and best speedup so far")
    fig.tight_layout()
    paths.append(folder / "reward.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    by = result.by_strategy()
    names = list(by) or ["(none)"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 0.35 * len(names) + 1.5), sharey=True)
    a1.barh(names, [by[n].tokens for n in names] if by else [0], color="tab:purple")
    a1.set_xlabel("tokens")
    a2.barh(names, [by[n].usd for n in names] if by else [0], color="tab:green")
    a2.set_xlabel("USD")
    fig.suptitle("realizer cost per strategy")
    fig.tight_layout()
    paths.append(folder / "cost_per_arm.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


class RunDirWriter:
    """Observer: writes best_kernel.py, candidates.jsonl and figures/ at the end.

    `write` writes them once per result and returns their paths, so an observer that
    uploads them (MLflow) calls it itself and never depends on the observers' order.
    """

    def __init__(self, run_dir: Path, figures: bool = True) -> None:
        self.run_dir, self.figures = Path(run_dir), figures
        self._written: tuple[TuneResult, list[Path]] | None = None

    def on_start(self, start: RunStart) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def on_iteration(self, record: IterationRecord) -> None:
        pass

    def on_end(self, result: TuneResult) -> None:
        self.write(result)

    def write(self, result: TuneResult) -> list[Path]:
        """The run's files (written on the first call for `result`)."""
        if self._written is not None and self._written[0] is result:
            return self._written[1]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        paths = [self.run_dir / BEST_KERNEL, self.run_dir / CANDIDATES]
        write_best_kernel(result, paths[0])
        write_candidates(result, paths[1])
        if self.figures and result.records:
            paths += write_figures(result.records, result, self.run_dir / FIGURES)
        self._written = (result, paths)
        return paths


def _x(v: float | None) -> str:
    return f"{v:.3f}x" if v else "not measured"


def summary_tables(
    result: TuneResult, info: Mapping[str, str], best_path: Path | None, mlflow_run: str | None
) -> tuple[Table, Table]:
    """The final summary (one row per fact) and the per-family pulls/reward table."""
    best, m = result.best, result.best.measurement
    last = result.records[-1] if result.records else None
    interp = m.timing_kind == "interpreter"
    t = Table(title="kernel-bandit run", show_header=False, title_justify="left")
    t.add_column("", style="bold")
    t.add_column("")
    for k, v in info.items():
        t.add_row(k, v)
    is_ref = best.id == result.reference.id
    t.add_row(
        "best kernel",
        "the reference (no candidate beat it)"
        if is_ref
        else f"{best.id} ({best.candidate.strategy_id}, parent {best.candidate.parent_id})",
    )
    speedup = result.best_speedup  # the best kernel's Measurement.speedup
    t.add_row("speedup over eager", _x(speedup) + (" (interpreter time)" if interp else ""))
    t.add_row("speedup over torch.compile", _x(m.speedup_vs_compile))
    rt = best.runtime_ms
    t.add_row("best runtime", f"{rt:.4f} ms" + (" (interpreter)" if interp else "") if rt else "-")
    t.add_row("iterations", str(len(result.records)))
    t.add_row(
        "tokens (prompt / completion)",
        f"{last.tokens_prompt:,} / {last.tokens_completion:,}" if last else "0 / 0",
    )
    t.add_row("cost", f"${last.cost_usd:.4f}" if last else "$0.0000")
    t.add_row("stop reason", result.stop_reason)
    t.add_row("best kernel file", str(best_path) if best_path else "-")
    t.add_row("MLflow run", mlflow_run or "not tracked")

    f = Table(title="per family", title_justify="left")
    for col in ("family", "pulls", "mean reward", "correct", "tokens", "USD"):
        f.add_column(col, justify="left" if col == "family" else "right")
    for fam, s in result.by_family().items():
        f.add_row(
            fam,
            str(s.pulls),
            f"{s.mean_reward:.3f}",
            str(s.successes),
            f"{s.tokens:,}",
            f"{s.usd:.4f}",
        )
    return t, f
