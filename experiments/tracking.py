"""MLflow tracking as a tuner observer: one MLflow run per tuning run.

- start: the resolved config (flattened) as params; tags task, policy, realizer,
  realizer_model, gpu, device, git_revision;
- every iteration (step = iteration), batched: the headline curves
  ``headline/reward``, ``headline/best_speedup``, ``headline/best_runtime_ms`` and
  the cumulative ``headline/tokens_prompt``, ``headline/tokens_completion``,
  ``headline/cost_usd``; and the pulled arm's running pulls, mean reward, tokens
  and USD per strategy and per family (``per_strategy/<family>/<name>/pulls``,
  ``per_family/<family>/pulls``, ...). MLflow's run page draws one chart section
  per key prefix, sorted by name, so the headline section comes first;
- end: the final per-arm values again at the last step, ``summary/best_speedup``
  and ``summary/best_runtime_ms`` (one point each, last section); the run directory's
  files as artifacts (asked of the `RunDirWriter` itself, so the observers' order
  does not matter): best kernel and candidate, candidates.jsonl, runlog.jsonl,
  report.html, tune.log, config.yaml and figures.

The experiment is tagged ``mlflow.experimentKind=custom_model_development`` so
MLflow 3 treats it as a training experiment (runs and charts), not a GenAI one
(traces); `ui_url` gives the page that opens on the runs in any MLflow 3 UI.

Every MLflow call is guarded: the first failure (unwritable store, server down,
a locked database) is reported once as a warning, tracking switches itself off,
tuning goes on, and ``python -m experiments.sync <run dir>`` uploads the run
later from its run log. An ``http(s)://`` store is probed with a short TCP
connect first, and MLflow's own HTTP retries are bounded
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``/``_TIMEOUT`` unless set), so an
unreachable server costs seconds, not minutes.
A resumed run continues its MLflow run (its id is kept in the run directory).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bandit.records import ArmSummary, IterationRecord, RunStart, TuneResult
from experiments.report import FIGURES, RunDirWriter
from experiments.settings import TrackingSettings
from experiments.sqlite_store import artifact_location, ensure_sqlite_store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_FILE = "mlflow_run.json"
CONFIG = "config.yaml"
HEADLINE = "headline/"  # metric key prefixes: MLflow sorts its chart sections by them
PER_STRATEGY = "per_strategy/"
PER_FAMILY = "per_family/"
FINAL = "summary/"  # one point at the end: its section comes last
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"  # MLflow 3: a training experiment, not GenAI
_MAX_PARAM = 6000
_BATCH = 100


def git_revision(root: Path = PROJECT_ROOT) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else "unknown"


def _warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def iteration_metrics(r: IterationRecord) -> dict[str, float]:
    m = {
        "reward": r.reward,
        "best_speedup": r.best_speedup,
        "best_runtime_ms": r.best_runtime_ms,
        "tokens_prompt": float(r.tokens_prompt),
        "tokens_completion": float(r.tokens_completion),
        "cost_usd": r.cost_usd,
        "wall_s": r.wall_s,
    }
    if r.speedup is not None:
        m["speedup"] = r.speedup
    m["masked_arms"] = float(sum(1 for d in r.masks if " masked: " in d))
    return {HEADLINE + k: v for k, v in m.items()}


def summary_metrics(base: str, s: ArmSummary) -> dict[str, float]:
    return {
        f"{base}/pulls": float(s.pulls),
        f"{base}/failures": float(s.failures),
        f"{base}/mean_reward": s.mean_reward,
        f"{base}/tokens": float(s.tokens),
        f"{base}/usd": s.usd,
    }


def arm_metrics(result: TuneResult) -> dict[str, float]:
    """Per strategy (``per_strategy/<family>/<name>/*``) and per family
    (``per_family/<family>/*``)."""
    out: dict[str, float] = {}
    for prefix, table in ((PER_STRATEGY, result.by_strategy()), (PER_FAMILY, result.by_family())):
        for key, s in table.items():
            out.update(summary_metrics(prefix + str(key), s))
    return out


def ui_url(
    experiment_id: str, run_id: str | None = None, base: str = "http://127.0.0.1:5000"
) -> str:
    """The MLflow UI page of an experiment's runs (or of one run's charts); the
    ``workflowType`` parameter makes MLflow 3.x show training runs, not GenAI traces."""
    page = f"{base}/#/experiments/{experiment_id}"
    page += f"/runs/{run_id}/model-metrics" if run_id else "/runs"
    return page + "?workflowType=machine_learning"


def ensure_experiment(client: Any, name: str, uri: str) -> str:
    """The id of MLflow experiment `name`, created (tagged not-GenAI, see the module doc) or
    tagged if it is not yet. Safe against parallel jobs (a sweep's): one that loses a race to
    create or tag the experiment uses what the other wrote (SQLite: UNIQUE failed)."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return str(
                client.create_experiment(
                    name, artifact_location(uri), tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
                )
            )
        except Exception:  # created meanwhile by a parallel job
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            return str(exp.experiment_id)
    if exp.tags.get(EXPERIMENT_KIND_TAG) is None:
        try:
            client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        except Exception:  # tagged meanwhile by a parallel job
            again = client.get_experiment_by_name(name)
            if again is None or again.tags.get(EXPERIMENT_KIND_TAG) is None:
                raise
    return str(exp.experiment_id)


class MlflowTracker:
    """Observer logging one tuning run to MLflow (see the module doc)."""

    def __init__(
        self,
        settings: TrackingSettings,
        writer: RunDirWriter,
        params: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
        run_name: str | None = None,
        flush_s: float = 1.0,
        warn: Callable[[str], None] = _warn_stderr,
    ) -> None:
        self.settings, self.writer, self.run_dir = settings, writer, writer.run_dir
        self.params, self.tags, self.run_name = dict(params), dict(tags or {}), run_name
        self.flush_s, self.warn = flush_s, warn
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self._client: Any = None
        self._pending: list[Any] = []
        self._last_flush = 0.0
        self._skip_upto = 0  # iterations already in the MLflow run (on resume)
        self._arms: dict[str, ArmSummary] = {}  # running per-strategy / per-family totals
        self.failed: str | None = None

    # -- guard -------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        if self.failed is not None or (self._client is None and what != "start"):
            return
        try:
            fn()
        except Exception as e:
            self.failed = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            self.warn(
                f"MLflow tracking failed ({what}, {self.settings.uri}): {self.failed}; "
                "tuning continues without tracking (upload it later: "
                f"python -m experiments.sync {self.run_dir})"
            )

    # -- observer hooks -------------------------------------------------------------------
    def on_start(self, start: RunStart) -> None:
        self._guard("start", lambda: self._start(start))

    def on_iteration(self, record: IterationRecord) -> None:
        self._guard("log metrics", lambda: self._add(record, flush=False))

    def on_end(self, result: TuneResult) -> None:
        self._guard("end", lambda: self._end(result))

    # -- work -----------------------------------------------------------------------------
    def _start(self, start: RunStart) -> None:
        bound_http_retries()
        problem = unreachable(self.settings.uri)
        if problem:
            raise ConnectionError(problem)
        from mlflow import MlflowClient

        for name in ("alembic", "mlflow"):  # after the import: mlflow sets its level then
            logging.getLogger(name).setLevel(logging.WARNING)

        ensure_sqlite_store(self.settings.uri)  # a kill during creation corrupts no store
        client = MlflowClient(tracking_uri=self.settings.uri)
        self.experiment_id = ensure_experiment(client, self.settings.experiment, self.settings.uri)
        self._client = client
        saved = self._saved_run(client)
        tags = {
            "task": start.task.name,
            "task_kind": start.task.kind,
            "task_size": start.task.size,
            "policy": start.policy,
            "realizer": start.realizer,
            "gpu": start.gpu.name,
            "device": start.device,
            "git_revision": git_revision(),
            **self.tags,
        }
        if saved is None:
            run = client.create_run(self.experiment_id, tags=tags, run_name=self.run_name)
            self.run_id = run.info.run_id
            self._log_params()
            (self.run_dir / RUN_FILE).write_text(
                json.dumps({"run_id": self.run_id, "uri": self.settings.uri}) + "\n"
            )
        else:
            self.run_id = saved
            client.update_run(saved, status="RUNNING")
            history = client.get_metric_history(saved, HEADLINE + "reward")
            self._skip_upto = max((m.step for m in history), default=0)
        for r in start.records:  # restored iterations not yet in this MLflow run
            self._add(r, flush=False)
        self._flush()

    def _saved_run(self, client: Any) -> str | None:
        path = self.run_dir / RUN_FILE
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("uri") != self.settings.uri:
            return None
        try:
            client.get_run(saved["run_id"])
        except Exception:
            return None
        return str(saved["run_id"])

    def _log_params(self) -> None:
        from mlflow.entities import Param

        params = [Param(k, _param_value(v)) for k, v in sorted(self.params.items())]
        for chunk in _chunks(params, _BATCH):
            self._client.log_batch(self.run_id, params=chunk)

    def _add(self, r: IterationRecord, flush: bool) -> None:
        keys = (PER_STRATEGY + r.arm.strategy, PER_FAMILY + r.arm.family)
        for key in keys:  # running totals count restored iterations too
            self._arms[key] = self._arms.get(key, ArmSummary()).add(r)
        if r.iteration <= self._skip_upto:
            return
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        values = iteration_metrics(r)
        for key in keys:
            values.update(summary_metrics(key, self._arms[key]))
        self._pending.extend(Metric(k, float(v), ts, r.iteration) for k, v in values.items())
        if flush or time.monotonic() - self._last_flush >= self.flush_s:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for chunk in _chunks(pending, 1000):
            self._client.log_batch(self.run_id, metrics=chunk)
        self._last_flush = time.monotonic()

    def _end(self, result: TuneResult) -> None:
        from mlflow.entities import Metric, RunTag

        self._flush()
        ts = int(time.time() * 1000)
        step = len(result.records)
        final = {
            **arm_metrics(result),
            FINAL + "best_speedup": result.best_speedup,
            # replay: iterations whose kernel was outside the recorded landscape
            FINAL + "not_recorded": float(sum(r.status == "not_recorded" for r in result.records)),
        }
        if result.best.runtime_ms:
            final[FINAL + "best_runtime_ms"] = result.best.runtime_ms
        metrics = [Metric(k, float(v), ts, step) for k, v in final.items()]
        for chunk in _chunks(metrics, 1000):
            self._client.log_batch(self.run_id, metrics=chunk)
        tags = {
            "stop_reason": result.stop_reason[:5000],
            "best_kernel": result.best.id,
            "best_strategy": result.best.candidate.strategy_id or "reference",
        }
        self._client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        config = self.run_dir / CONFIG
        for path in [*self.writer.write(result), *([config] if config.is_file() else [])]:
            folder = FIGURES if path.parent.name == FIGURES else None
            self._client.log_artifact(self.run_id, str(path), folder)
        status = "FINISHED" if result.ok else "FAILED"
        if result.stop_reason == "interrupted":
            status = "KILLED"
        self._client.set_terminated(self.run_id, status)


HTTP_RETRIES = "1"
HTTP_TIMEOUT_S = "10"
PROBE_TIMEOUT_S = 3.0


def bound_http_retries() -> None:
    """Keep MLflow's HTTP retries short unless the user chose otherwise."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_RETRIES)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", HTTP_TIMEOUT_S)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def unreachable(uri: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why an http(s) tracking server cannot be reached (a TCP connect), or None."""
    if not uri or not uri.startswith(("http://", "https://")):
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as e:
        return f"tracking server {host}:{port} unreachable ({e.strerror or e})"


def _param_value(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, list | dict) else str(v)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
