"""The run folder's log file and clean-up: Hydra's job log (``tune.log``) pointed at
the run folder, and a folder Hydra made for a run that never started removed."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

from experiments.report import LOG_FILE

RUN_LOG_HANDLER = "kb_run_log"  # the job log's handler in conf/config.yaml


def _file_handlers() -> list[logging.FileHandler]:
    """Hydra's job log handler (named in conf/config.yaml); none outside Hydra."""
    return [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.FileHandler) and h.name == RUN_LOG_HANDLER
    ]


def log_into(run_dir: Path) -> None:
    """Point Hydra's job log (a file handler on the root logger) at `run_dir`/tune.log,
    appending: a resume keeps writing the resumed run's log."""
    target = os.path.abspath(run_dir / LOG_FILE)
    for h in _file_handlers():
        if h.baseFilename == target:
            continue
        h.close()
        h.baseFilename, h.mode = target, "a"
        h.stream = None  # reopened lazily on the next record (delay)


def drop_if_unused(folder: Path) -> None:
    """Remove the folder Hydra made for this job when the run never used it (a user
    error before the start, or a resume elsewhere), and its date folder if empty."""
    if not folder.is_dir() or (folder / "config.yaml").is_file():
        return
    target = os.path.abspath(folder / LOG_FILE)
    for h in _file_handlers():
        if h.baseFilename == target:
            h.close()
    leftovers = [p for p in folder.iterdir() if p.name not in (LOG_FILE, ".hydra")]
    if leftovers:
        return
    shutil.rmtree(folder, ignore_errors=True)
    for parent in (folder.parent, folder.parent.parent):  # the date folder, then runs/
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when this was their only run
