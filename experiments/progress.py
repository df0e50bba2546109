"""A rich progress bar as a tuner observer (to stderr, so stdout keeps the summary)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bandit.records import IterationRecord, RunStart, TuneResult


class ProgressBar:
    def __init__(self, total: int | None, console: Console | None = None) -> None:
        self.total = total
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None

    def on_start(self, start: RunStart) -> None:
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
        if self._progress is None or self._task is None:
            return
        status = (
            f"best {record.best_speedup:.2f}x  {record.arm.strategy} -> {record.status}"
            f"  ${record.cost_usd:.3f}"
        )
        self._progress.update(self._task, completed=record.iteration, status=status)

    def on_end(self, result: TuneResult) -> None:
        self.stop()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
