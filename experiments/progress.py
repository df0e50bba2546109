"""Progress as a tuner observer, on stderr (stdout keeps the summary), and in the log.

- `ProgressBar`: a rich bar for a terminal;
- `PlainProgress`: one plain line per iteration, for log files, CI and ``tee``;
- `make_progress(mode)`: ``bar``, ``plain``, or ``auto`` (the bar on a terminal,
  plain lines otherwise).

Both send the same start line and per-iteration lines to the ``kernel_bandit``
logger, so the run's log file (Hydra's ``tune.log``) holds them too.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bandit.records import IterationRecord, RunStart, TuneResult
from experiments.settings import PROGRESS as PROGRESS_MODES

log = logging.getLogger("kernel_bandit")
log.addHandler(logging.NullHandler())  # no "last resort" echo on stderr when unconfigured


def start_line(start: RunStart) -> str:
    ref = start.reference.runtime_ms or 0.0
    return (
        f"{start.task.name} ({start.task.size}) on {start.device} ({start.gpu.name}): "
        f"policy {start.policy}, realizer {start.realizer}, {len(start.arms)} arms; "
        f"reference {ref:.4f} ms"
        + (f"; resuming after iteration {len(start.records)}" if start.resumed else "")
    )


def iteration_line(record: IterationRecord, total: int | None) -> str:
    """One iteration, with every number in full (no bar, no colour)."""
    n = f"{record.iteration}/{total}" if total else str(record.iteration)
    rt = f" {record.runtime_ms:.4f} ms" if record.runtime_ms else ""
    return (
        f"iteration {n}: {record.arm.strategy} on {record.parent_id} -> "
        f"{record.candidate_id or '-'} {record.status}{rt}, reward {record.reward:.3f}; "
        f"best {record.best_id} {record.best_speedup:.3f}x; "
        f"tokens {record.tokens:,}, ${record.cost_usd:.4f}, {record.wall_s:.1f} s"
    )


class PlainProgress:
    """One line per iteration on the console and in the log."""

    def __init__(self, total: int | None, console: Console | None = None) -> None:
        self.total = total
        self.console = console or Console(stderr=True)

    def _line(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, markup=False, highlight=False)
        log.info(text)

    def on_start(self, start: RunStart) -> None:
        self._line(start_line(start))

    def on_iteration(self, record: IterationRecord) -> None:
        self._line(iteration_line(record, self.total))

    def on_end(self, result: TuneResult) -> None:
        self._line(f"run ended: {result.stop_reason}")

    def stop(self) -> None:
        pass


class ProgressBar:
    """A rich progress bar for a terminal; the log still gets one line per iteration."""

    def __init__(self, total: int | None, console: Console | None = None) -> None:
        self.total = total
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None

    def on_start(self, start: RunStart) -> None:
        log.info(start_line(start))
        ref = start.reference.runtime_ms or 0.0
        self.console.print(
            f"[bold]{start.task.name}[/] ({start.task.size}) on {start.device} "
            f"[dim]({start.gpu.name})[/]: policy {start.policy}, realizer {start.realizer}, "
            f"{len(start.arms)} arms; reference {ref:.4f} ms"
            + (f"; resuming after iteration {len(start.records)}" if start.resumed else "")
        )
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "tuning", total=self.total, completed=len(start.records), status=""
        )

    def on_iteration(self, record: IterationRecord) -> None:
        log.info(iteration_line(record, self.total))
        if self._progress is None or self._task is None:
            return
        status = (
            f"best {record.best_speedup:.2f}x  {record.arm.strategy} -> {record.status}"
            f"  ${record.cost_usd:.3f}"
        )
        self._progress.update(self._task, completed=record.iteration, status=status)

    def on_end(self, result: TuneResult) -> None:
        log.info(f"run ended: {result.stop_reason}")
        self.stop()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def make_progress(
    mode: str, total: int | None, console: Console | None = None
) -> ProgressBar | PlainProgress:
    """`mode`: ``bar``, ``plain`` or ``auto`` (a bar only when `console` is a terminal)."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)}, got {mode!r}")
    console = console or Console(stderr=True)
    if mode == "bar" or (mode == "auto" and console.is_terminal):
        return ProgressBar(total, console)
    return PlainProgress(total, console)
