"""Hydra callback for sweeps: the MLflow experiment made before jobs start, a comparison after.

Enabled by ``hydra/callbacks=compare`` (the ``+experiment=compare_policies`` recipe
does). `on_multirun_start` creates the sweep's MLflow experiment once, in the
launching process, with its kind tag, so parallel jobs (joblib, Slurm) never race to
create or tag it;
`on_multirun_end` runs `experiments.compare` on exactly this sweep's runs (tag
``sweep``, set by the tune app) and prints where the summary is. Neither ever
fails the sweep: a problem is one warning line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from experiments.sqlite_store import ensure_sqlite_store


def _tracking(config: DictConfig) -> tuple[str, str] | None:
    from experiments.settings import resolve_uri

    t = config.get("tracking") or {}
    if not t.get("enabled", True) or t.get("uri") is None:
        return None
    uri = resolve_uri(str(t.get("uri")), Path.cwd())
    return (str(uri), str(t.get("experiment") or "kernel-bandit")) if uri else None


def sweep_id(config: DictConfig) -> str:
    return str(config.hydra.sweep.dir)


class SweepCallback(Callback):
    def __init__(self, **_: Any) -> None:
        pass

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        where = _tracking(config)
        if where is None:
            return
        uri, experiment = where
        try:
            from experiments.compare import mlflow_client
            from experiments.tracking import ensure_experiment

            ensure_sqlite_store(uri)
            ensure_experiment(mlflow_client(uri), experiment, uri)  # tagged: jobs need not
        except Exception as e:  # the jobs will try again (and warn) themselves
            _warn(f"could not create MLflow experiment {experiment!r} at {uri}: {_line(e)}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        where = _tracking(config)
        if where is None:
            print("sweep done; tracking is off, so there is nothing to compare", flush=True)
            return
        uri, experiment = where
        sweep = sweep_id(config)
        out = Path(sweep) / "compare"
        try:
            from experiments.compare import compare

            summary, rid = compare(uri, experiment, out, sweep=sweep)
        except Exception as e:
            _warn(f"the sweep's comparison failed: {_line(e)} (retry: python -m experiments.compare "
                  f"--experiment {experiment} --sweep {sweep})")
            return
        print(f"comparison of this sweep: {summary} (figures in {summary.parent / 'figures'}); "
              f"MLflow summary run {rid} in experiment {experiment!r}", flush=True)


def _line(e: BaseException) -> str:
    return (str(e).strip() or type(e).__name__).splitlines()[0]


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)
