"""A local SQLite tracking store created atomically.

MLflow creates a new SQLite store by running its schema migrations in place. A
process killed in the middle (SIGKILL, OOM, Ctrl-C twice) leaves a half-migrated
file that every later open fails on ("duplicate column name"), so a resumed run
could never track again. Here a new store is migrated in a private file next to
the target and linked into place only when complete; `os.link` fails if another
process got there first, and that process's complete store is used as it is.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PREFIX = "sqlite:///"


def sqlite_path(uri: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None (a server, a memory store)."""
    if not uri or not uri.startswith(PREFIX) or uri[len(PREFIX) :] in ("", ":memory:"):
        return None
    return Path(uri[len(PREFIX) :])


def artifact_location(uri: str | None) -> str | None:
    """Artifacts of a SQLite store go next to the database (``mlartifacts/``), not into
    whatever folder the run happened to start in; a server decides for itself (None)."""
    path = sqlite_path(uri)
    return (path.parent / "mlartifacts").resolve().as_uri() if path is not None else None


def ensure_sqlite_store(uri: str | None) -> None:
    """Create the SQLite store of `uri`, fully migrated, unless it exists already."""
    path = sqlite_path(uri)
    if path is None:
        return
    for stale in path.parent.glob(f".{path.name}.init-*"):  # left by killed processes
        if not _alive(stale.name.rsplit("-", 1)[-1]):
            stale.unlink(missing_ok=True)
    if path.exists():
        return
    from mlflow import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    private = path.with_name(f".{path.name}.init-{os.getpid()}")
    private.unlink(missing_ok=True)
    try:
        MlflowClient(tracking_uri=f"{PREFIX}{private}").search_experiments(max_results=1)
        with contextlib.suppress(FileExistsError):  # another process finished first
            os.link(private, path)
    finally:
        private.unlink(missing_ok=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's live process
        return True
    return True
