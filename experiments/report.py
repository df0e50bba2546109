"""What a finished run leaves behind in its run directory.

`RunDirWriter` (an observer) writes, when the run ends:

- ``best_kernel.py``: the fastest correct program as a KernelBench ``ModelNew``
  module at the task's own size (its header says the size it was tuned at), and
  ``best_candidate.py`` when the reference stayed fastest (`experiments.keep`);
- ``candidates.jsonl``: every measured kernel, as the run log writes it;
- ``figures/``: reward and best speedup per iteration, realizer cost per strategy
  (`experiments.figures`; a figure without data says why);
- ``report.html``: the summary, figures, strategy chain and best source in one
  self-contained page (`experiments.html_report`).

`summary` gives the same facts as rows for the terminal and the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bandit.records import IterationRecord, RunStart, TuneResult
from bandit.runlog import candidate_dict, dumps
from experiments.figures import write_figures
from experiments.html_report import REPORT, ReportData, write_report
from experiments.keep import BEST_KERNEL, Outcome, kept_facts, outcome, program_source, write_kept
from experiments.summary import family_rows, summary_rows
from profiling.tasks import Task

CANDIDATES = "candidates.jsonl"
FIGURES = "figures"
RUN_LOG = "runlog.jsonl"
LOG_FILE = "tune.log"  # Hydra's job log (see conf/config.yaml)

__all__ = ["BEST_KERNEL", "CANDIDATES", "FIGURES", "REPORT", "RunDirWriter", "write_candidates"]

Rows = Sequence[tuple[str, str]]


def write_candidates(result: TuneResult, path: Path) -> None:
    """Every measured kernel, one JSON line each, as the run log writes them."""
    with path.open("w", encoding="utf-8") as fh:
        for member in result.members:
            fh.write(dumps(candidate_dict(member)) + "\n")


class RunDirWriter:
    """Observer: writes the run's files (module doc) at the end.

    `write` writes them once per result and returns their paths (with the run log and
    the log file when present), so an observer that uploads them (MLflow) calls it
    itself and never depends on the observers' order. `info` rows (task, policy, ...)
    and `extra_rows()` (e.g. the MLflow run) head and close the summary.
    """

    def __init__(
        self,
        run_dir: Path,
        figures: bool = True,
        info: Mapping[str, str] | None = None,
        extra_rows: Callable[[], Rows] | None = None,
        report: bool = True,
    ) -> None:
        self.run_dir, self.figures, self.report = Path(run_dir), figures, report
        self.info = dict(info or {})
        self.extra_rows = extra_rows
        self.task: Task | None = None
        self._written: tuple[TuneResult, list[Path]] | None = None
        self._files: dict[str, Path] = {}
        self._outcome: Outcome | None = None

    def on_start(self, start: RunStart) -> None:
        self.task = start.task
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def on_iteration(self, record: IterationRecord) -> None:
        pass

    def on_end(self, result: TuneResult) -> None:
        self.write(result)

    def summary(self, result: TuneResult) -> tuple[list[tuple[str, str]], list[tuple[str, ...]]]:
        """The summary rows and the per-family rows (terminal, log, report.html)."""
        out = self._outcome if self._outcome is not None else outcome(result)
        extra = list(self.extra_rows()) if self.extra_rows is not None else []
        rows = summary_rows(result, self.info, out, kept_facts(out, self._files), extra)
        return rows, family_rows(result)

    def write(self, result: TuneResult) -> list[Path]:
        """The run's files (written on the first call for `result`)."""
        if self._written is not None and self._written[0] is result:
            return self._written[1]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._outcome = out = outcome(result)
        task = self.task or Task(name=self.run_dir.name, path="", source="", kind="")
        self._files = write_kept(out, task, self.run_dir)
        paths = sorted(set(self._files.values()))
        paths.append(self.run_dir / CANDIDATES)
        write_candidates(result, paths[-1])
        figures: list[Path] = []
        if self.figures:
            figures = write_figures(result.records, result.by_strategy(), self.run_dir / FIGURES)
            paths += figures
        if self.report:
            shown = out.candidate or out.best
            rows, families = self.summary(result)
            data = ReportData(
                title=f"kernel-bandit: {task.name} ({task.size})",
                rows=rows,
                families=families,
                chain=shown.chain,
                chain_label="fastest program" if shown is out.best else "best candidate",
                source_label=self._files.get("candidate", self._files["best"]).name,
                source=program_source(shown, task),
                figures=figures,
            )
            paths.append(write_report(data, self.run_dir))
        paths += [p for p in (self.run_dir / RUN_LOG, self.run_dir / LOG_FILE) if p.is_file()]
        self._written = (result, paths)
        return paths
