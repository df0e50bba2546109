"""Check recorded landscapes against today's realizer; restamp the ones it still writes.

A landscape's header holds the fingerprint of the realizer code that recorded it
(``realizer_version``); any edit in the realizer's package changes the fingerprint, so
replay warns and a resumed recording refuses the file even when the kernels it writes are
byte-identical. This command re-derives every recorded kernel along its recorded strategy
chain (:mod:`experiments.rederive`) and tells the two cases apart::

    python -m experiments.check_landscape experiments/landscapes/*.jsonl
    python -m experiments.check_landscape FILE --restamp     # only files found restampable

Verdicts: ``current`` (recorded with this realizer version), ``restampable`` (another
version, but every recorded kernel is written again or its move now writes nothing),
``stale`` (some move writes another source: record the landscape again). ``--restamp``
rewrites the header line of each restampable file with the current version (the rest of
the file byte-identical) and notes it in the header's ``note``. Exit status: 1 when a
file is stale, 2 on a user error (one line), else 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from experiments import KERNELBENCH_DIR, TASKS_DIR
from experiments.rederive import Check, find_task, rederive
from profiling.landscape import (
    Landscape,
    LandscapeError,
    load_landscape,
    minor_version,
    rewrite_header,
    software_versions,
)
from profiling.tasks import Task, TaskError
from strategies.errors import RealizerError
from strategies.types import Realizer

EXIT_STALE = 1
EXIT_USER_ERROR = 2


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.check_landscape", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("files", nargs="+", type=Path, metavar="FILE", help="landscape files")
    ap.add_argument(
        "--restamp",
        action="store_true",
        help="rewrite the header of each restampable file with the current version",
    )
    ap.add_argument(
        "--tasks",
        type=Path,
        nargs="+",
        default=None,
        metavar="DIR",
        help="folders of task files (default: experiments/tasks and tests/strategies/kernelbench)",
    )
    ap.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the per-file counts and verdicts as JSON",
    )
    return ap.parse_args(argv)


def _prepare(
    files: Sequence[Path], folders: Sequence[Path]
) -> list[tuple[Landscape, Task, Realizer]]:
    """Every file's landscape, task and realizer, or a one-line error before any work."""
    from strategies.factory import build_realizer

    realizers: dict[str, Realizer] = {}
    out = []
    for path in files:
        land = load_landscape(path)
        h = land.header
        task = find_task(h.task, h.size, folders)
        if h.realizer not in realizers:
            realizers[h.realizer] = build_realizer(h.realizer, {})
        realizer = realizers[h.realizer]
        if not realizer.deterministic:
            raise RealizerError(
                f"{path}: the {h.realizer} realizer is not deterministic; its landscape "
                "cannot be re-derived"
            )
        realizer.check_task(task)
        out.append((land, task, realizer))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    folders = args.tasks if args.tasks is not None else [TASKS_DIR, KERNELBENCH_DIR]
    from strategies.catalog import load_catalog

    try:
        prepared = _prepare(args.files, folders)
        catalog = load_catalog()
    except (LandscapeError, TaskError, RealizerError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return EXIT_USER_ERROR
    checks: list[Check] = []
    restamped: dict[str, str] = {}
    with _Progress(len(prepared)) as step:
        for land, task, realizer in prepared:
            check = rederive(land, task, realizer, catalog)
            checks.append(check)
            step(land)
    for check in checks:
        if args.restamp and check.verdict == "restampable":
            try:
                restamped[str(check.path)] = _restamp(check, load_landscape(check.path).header.note)
            except LandscapeError as e:
                print(f"error: {e}", file=sys.stderr)
                return EXIT_USER_ERROR
    _print(checks, restamped, args.restamp)
    if args.json is not None:
        rows = [{**c.to_dict(), "restamped": str(c.path) in restamped} for c in checks]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return EXIT_STALE if any(c.verdict == "stale" for c in checks) else 0


RESTAMPED = "restamped "


def _restamp(check: Check, note: str) -> str:
    """Rewrite `check`'s file header with the current version; returns the line noted. The
    note keeps one restamp line, from the version the kernels were recorded with: a file
    restamped again replaces it (the versions in between say nothing about the kernels)."""
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    parts = [p for p in note.split("; ") if p]
    earlier = [p for p in parts if p.startswith(RESTAMPED)]
    recorded = earlier[0][len(RESTAMPED) :].split("->", 1)[0] if earlier else check.recorded_version
    line = (
        f"{RESTAMPED}{recorded}->{check.current_version} {date}: "
        f"{check.count('same')} same, {check.count('masked')} masked"
    )
    assert check.path is not None
    kept = [p for p in parts if not p.startswith(RESTAMPED)]
    rewrite_header(
        check.path, realizer_version=check.current_version, note="; ".join([*kept, line])
    )
    return line


class _Progress:
    """A rich bar over the files on a terminal; one plain line per file otherwise."""

    def __init__(self, total: int) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.total = total
        self.done = 0
        self.bar = None
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("re-deriving"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[last]}"),
                console=self.console,
            )

    def __enter__(self) -> Callable[[Landscape], None]:
        if self.bar is not None:
            self.bar.start()
            self._id = self.bar.add_task("files", total=self.total, last="")
        return self.step

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def step(self, land: Landscape) -> None:
        self.done += 1
        name = land.path.name if land.path else land.header.task
        if self.bar is not None:
            self.bar.update(self._id, advance=1, last=name)
        else:
            self.console.print(
                f"re-derived {self.done}/{self.total}: {name}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def _print(checks: Sequence[Check], restamped: dict[str, str], restamp: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    table = Table(title="recorded landscapes vs the current realizer")
    cols = (
        "file",
        "kernels",
        "same",
        "differs",
        "masked",
        "orphan",
        "tune",
        "recorded",
        "current",
        "verdict",
    )
    for col in cols:
        table.add_column(
            col, justify="left" if col in ("file", "recorded", "current", "verdict") else "right"
        )
    for c in checks:
        verdict = c.verdict
        if str(c.path) in restamped:
            verdict += " (restamped)"
        elif restamp and verdict == "stale":
            verdict += " (not restamped)"
        table.add_row(
            c.path.name if c.path else c.task,
            str(len(c.kernels)),
            *(str(c.count(s)) for s in ("same", "differs", "masked", "orphan", "tune")),
            c.recorded_version,
            c.current_version,
            verdict,
        )
    console.print(table)
    for c in checks:
        lost = c.lost()
        if not lost:
            continue
        console.print(
            f"{c.path.name if c.path else c.task}: moves that now write another "
            "source or none (fastest recorded first)",
            highlight=False,
            markup=False,
        )
        for k, below in lost:
            ms = f"{k.median_ms:.4f} ms" if k.median_ms is not None else "-"
            extra = f", {below} recorded below it" if below else ""
            console.print(
                f"  {k.status:7} {' > '.join(k.chain) or '(reference)'}: recorded "
                f"{k.recorded_status} {ms}{extra}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    for path, line in restamped.items():
        console.print(f"{path}: {line}", highlight=False, markup=False, soft_wrap=True)
    running = software_versions()["torch"]
    other = sorted(
        {
            c.recorded_torch
            for c in checks
            if c.recorded_torch and minor_version(c.recorded_torch) != minor_version(running)
        }
    )
    if other and any(c.count("differs") for c in checks):
        console.print(
            f"note: some files were recorded with torch {', '.join(other)}, this is "
            f"{running}: the graph templates capture the reference through torch, so "
            "a kernel can also differ because torch traces it differently (check on "
            "the recording's torch before re-recording)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if restamp and (stale := [c for c in checks if c.verdict == "stale"]):
        console.print(
            f"not restamped ({len(stale)} stale: record again): "
            + ", ".join(c.path.name if c.path else c.task for c in stale),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


if __name__ == "__main__":
    sys.exit(main())
