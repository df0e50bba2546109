"""Upload a run to MLflow from its run directory: ``python -m experiments.sync RUN_DIR``.

For a run whose tracking store was down or locked while it tuned: the run log
(``runlog.jsonl``, the source of truth) is replayed into MLflow through the same
`MlflowTracker` the tuner uses. A run that already has an MLflow run (its id in
``mlflow_run.json``, same store) is continued: only the iterations MLflow lacks
are added. ``--uri``/``--experiment`` override the run's saved tracking section.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bandit.arms import Arm
from bandit.budget import Spend
from bandit.frontier import REFERENCE_ID, Frontier
from bandit.records import RunStart, TuneResult
from bandit.runlog import RunLog
from experiments.report import RunDirWriter
from experiments.settings import TrackingSettings, flatten
from experiments.tracking import MlflowTracker
from experiments.tune import CONFIG_FILE, RUN_LOG
from profiling.hardware import GpuFacts
from profiling.tasks import Task

EXIT_USER_ERROR = 2


def replay(run_dir: Path, settings: TrackingSettings) -> MlflowTracker:
    """Feed the run log to a tracker as if the run were happening now."""
    logged = RunLog(run_dir / RUN_LOG).read()
    plain = (
        yaml.safe_load((run_dir / CONFIG_FILE).read_text())
        if (run_dir / CONFIG_FILE).is_file()
        else {}
    )
    frontier = Frontier()
    for lc in logged.candidates:
        frontier.add(lc.candidate, lc.measurement, lc.iteration, cluster=lc.cluster)
    if REFERENCE_ID not in frontier:
        raise ValueError(f"{run_dir}: the run log holds no measured reference (nothing to upload)")
    h = logged.header
    task = Task(
        name=str(h.get("task")),
        path="",
        source="",
        kind=str(h.get("kind")),
        size=str(h.get("size")),
    )
    params = flatten({k: v for k, v in (plain or {}).items() if k != "resume"})
    tracker = MlflowTracker(
        settings, RunDirWriter(run_dir), params, {"synced": "true"}, run_name=f"{task.name}-sync"
    )
    ref = frontier.get(REFERENCE_ID)
    arms = tuple({r.arm for r in logged.records} or {Arm(0, "none", "none/none")})
    tracker.on_start(
        RunStart(
            task,
            str(h.get("policy")),
            str(h.get("realizer")),
            str(h.get("device")),
            GpuFacts(),
            ref,
            arms,
            (),
            run_dir / RUN_LOG,
        )
    )
    for r in logged.records:
        tracker.on_iteration(r)
    last = logged.records[-1] if logged.records else None
    end = logged.ends[-1] if logged.ends else {"stop_reason": "unfinished (synced)", "error": None}
    spend = Spend(
        len(logged.records),
        last.tokens if last else 0,
        last.cost_usd if last else 0.0,
        last.wall_s if last else 0.0,
    )
    tracker.on_end(
        TuneResult(
            str(end.get("stop_reason")),
            ref,
            frontier.best() or ref,
            logged.records,
            tuple(frontier),
            spend,
            end.get("error"),
            run_dir / RUN_LOG,
        )
    )
    return tracker


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="experiments.sync", description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--uri", default=None, help="tracking store (default: the run's own)")
    ap.add_argument("--experiment", default=None)
    args = ap.parse_args(argv)
    run_dir = Path(args.run_dir).expanduser().resolve()
    if not (run_dir / RUN_LOG).is_file():
        print(f"error: {args.run_dir} is not a run directory (no {RUN_LOG})", file=sys.stderr)
        return EXIT_USER_ERROR
    saved = {}
    if (run_dir / CONFIG_FILE).is_file():
        saved = (yaml.safe_load((run_dir / CONFIG_FILE).read_text()) or {}).get("tracking") or {}
    settings = TrackingSettings(
        enabled=True,
        uri=args.uri or saved.get("uri") or TrackingSettings().uri,
        experiment=args.experiment or saved.get("experiment") or TrackingSettings().experiment,
    )
    try:
        tracker = replay(run_dir, settings)
    except (OSError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return EXIT_USER_ERROR
    if tracker.failed:
        print(f"error: upload failed: {tracker.failed}", file=sys.stderr)
        return 1
    print(
        f"uploaded {run_dir} to {settings.uri} (experiment {settings.experiment}, run {tracker.run_id})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
