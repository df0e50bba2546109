"""Compare the policies of a sweep: ``python -m experiments.compare --experiment NAME``.

Reads every tuning run of an MLflow experiment (or of one sweep in it,
``--sweep``), and writes to ``--out`` (default ``runs/compare/<experiment>``):

- ``summary.md`` / ``summary.json``: per task and policy, the final best speedup
  (mean and 95 % interval over seeds), how many runs reached 95 % of the best
  speedup any run of the task found and the iterations / tokens / USD / seconds
  it took them, a two-sided Mann-Whitney U test against ``--baseline`` (hucb),
  the mean replay misses; then the same pooled over tasks (normalized speedups);
- ``figures/``: best-so-far curves with 95 % bands, simple regret, cost per arm.

The same files go to MLflow as a summary run (tag ``kind=comparison``) in the
experiment; each compared run gets the tag ``comparison_run`` pointing to it, and
the summary lists their ids in ``runs.json``. A Hydra multirun ends with this
comparison when ``hydra.callbacks.compare`` is on (``conf/hydra/callbacks``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from experiments.compare_figures import all_figures
from experiments.compare_stats import PolicySummary, RunCurve, pooled_tests, summarize
from experiments.tracking import FINAL, HEADLINE, PER_FAMILY

EXIT_USER_ERROR = 2
SUMMARY_KIND = "comparison"


class CompareError(Exception):
    """Nothing to compare (no experiment, no runs); one line."""


# -- reading MLflow -------------------------------------------------------------------


def mlflow_client(uri: str) -> Any:
    import logging

    from mlflow import MlflowClient

    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)


def _history(client: Any, run_id: str, key: str) -> np.ndarray:
    points = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
    return np.array([v for _, v in points], dtype=float)


def fetch_runs(uri: str, experiment: str, sweep: str | None = None) -> tuple[str, list[RunCurve]]:
    """The experiment's id and a `RunCurve` per finished tuning run (summaries excluded)."""
    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise CompareError(f"no MLflow experiment {experiment!r} at {uri}")
    query = f"tags.sweep = '{sweep}'" if sweep else ""
    found, token = [], None
    while True:
        page = client.search_runs([exp.experiment_id], query, max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            break
    print(f"reading {len(found)} runs of experiment {experiment!r} ...", file=sys.stderr, flush=True)
    curves = []
    for run in found:
        tags, metrics = run.data.tags, run.data.metrics
        if tags.get("kind") == SUMMARY_KIND or "policy" not in tags or "task" not in tags:
            continue
        rid = run.info.run_id
        best = _history(client, rid, HEADLINE + "best_speedup")
        if not len(best):
            continue
        n = len(best)
        tokens = _fit(_history(client, rid, HEADLINE + "tokens_prompt"), n)
        tokens = tokens + _fit(_history(client, rid, HEADLINE + "tokens_completion"), n)
        usd = _history(client, rid, HEADLINE + "cost_usd")
        seconds = _history(client, rid, HEADLINE + "wall_s")
        families = {  # per_family/<family>/pulls and .../usd, their last values
            k[len(PER_FAMILY) : -len("/pulls")]: (v, metrics.get(k[: -len("pulls")] + "usd", 0.0))
            for k, v in metrics.items()
            if k.startswith(PER_FAMILY) and k.endswith("/pulls")
        }
        curves.append(
            RunCurve(
                run_id=run.info.run_id,
                task=tags["task"],
                policy=tags["policy"],
                seed=int(tags.get("seed", 0) or 0),
                best=best,
                tokens=tokens,
                usd=_fit(usd, n),
                seconds=_fit(seconds, n, np.nan),
                families=families,
                misses=int(metrics.get(FINAL + "not_recorded", 0)),
            )
        )
    if not curves:
        where = f" (sweep {sweep})" if sweep else ""
        raise CompareError(f"experiment {experiment!r}{where} has no tuning runs with metrics")
    return str(exp.experiment_id), curves


def _fit(a: np.ndarray, n: int, fill: float = 0.0) -> np.ndarray:
    return a[:n] if len(a) >= n else np.concatenate([a, np.full(n - len(a), fill)])


# -- writing the summary ----------------------------------------------------------------


def comparison(runs: Sequence[RunCurve], baseline: str) -> dict[str, Any]:
    by_task: dict[str, list[RunCurve]] = {}
    for r in runs:
        by_task.setdefault(r.task, []).append(r)
    tasks = {t: summarize(rs, baseline) for t, rs in sorted(by_task.items())}
    pooled = pooled_tests(runs, baseline)
    return {"baseline": baseline, "runs": len(runs), "tasks": tasks, "pooled": pooled}


def _p(p: float | None) -> str:
    return "-" if p is None else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def markdown(result: dict[str, Any], title: str) -> str:
    base = result["baseline"]
    lines = [f"# Policy comparison: {title}", "", f"{result['runs']} runs. Intervals: 95 % "
             f"t-intervals over seeds. p: two-sided Mann-Whitney U of final best speedups vs {base}.",
             "'to 95 %': runs that reached 95 % of the best speedup any run of the task found, "
             "and what it took them (mean [interval]).", ""]
    head = ("| policy | runs | best speedup | reached 95 % | iterations | tokens | USD | seconds "
            f"| p vs {base} | misses |")
    for task, rows in result["tasks"].items():
        lines += [f"## {task}", "", head, "|" + "---|" * 10]
        for s in rows:
            lines.append(
                f"| {s.policy} | {s.runs} | {s.best.fmt()} | {s.reached}/{s.runs} | "
                f"{s.iterations.fmt(1)} | {s.tokens.fmt(0)} | {s.usd.fmt(3)} | {s.seconds.fmt(1)} "
                f"| {_p(s.p_value)} | {s.misses:.1f} |"
            )
        lines.append("")
    lines += ["## All tasks (final best / the task's best found)", "",
              f"| policy | runs | normalized best | p vs {base} |", "|---|---|---|---|"]
    for policy, (iv, p) in result["pooled"].items():
        lines.append(f"| {policy} | {iv.n} | {iv.fmt()} | {_p(p)} |")
    return "\n".join(lines) + "\n"


def _jsonable(result: dict[str, Any]) -> dict[str, Any]:
    def row(s: PolicySummary) -> dict[str, Any]:
        return asdict(s)

    return {
        "baseline": result["baseline"],
        "runs": result["runs"],
        "tasks": {t: [row(s) for s in rows] for t, rows in result["tasks"].items()},
        "pooled": {p: {"interval": asdict(iv), "p_value": pv} for p, (iv, pv) in result["pooled"].items()},
    }


def write(runs: Sequence[RunCurve], out: Path, title: str, baseline: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    result = comparison(runs, baseline)
    files = [out / "summary.md", out / "summary.json", out / "runs.json"]
    files[0].write_text(markdown(result, title))
    files[1].write_text(json.dumps(_jsonable(result), indent=2, default=float))
    files[2].write_text(json.dumps(
        [{"run_id": r.run_id, "task": r.task, "policy": r.policy, "seed": r.seed} for r in runs],
        indent=1))
    return files + all_figures(runs, out / "figures")


def log_summary(uri: str, experiment_id: str, runs: Sequence[RunCurve], files: Sequence[Path],
                name: str) -> str:
    """A summary run with the files as artifacts; every compared run is tagged with its id."""
    from mlflow.entities import RunTag

    client = mlflow_client(uri)
    run = client.create_run(experiment_id, run_name=name,
                            tags={"kind": SUMMARY_KIND, "compared_runs": str(len(runs))})
    rid = run.info.run_id
    for f in files:
        client.log_artifact(rid, str(f), "figures" if f.suffix == ".png" else None)
    for r in runs:
        client.log_batch(r.run_id, tags=[RunTag("comparison_run", rid)])
    client.set_terminated(rid, "FINISHED")
    return str(rid)


def compare(uri: str, experiment: str, out: Path, *, sweep: str | None = None,
            baseline: str = "hucb", log: bool = True) -> tuple[Path, str | None]:
    """The whole comparison; returns the summary file and the MLflow summary run id."""
    experiment_id, runs = fetch_runs(uri, experiment, sweep)
    files = write(runs, out, experiment + (f" / {sweep}" if sweep else ""), baseline)
    rid = log_summary(uri, experiment_id, runs, files, f"compare-{experiment}") if log else None
    return files[0], rid


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.compare",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--experiment", required=True, help="MLflow experiment of the sweep")
    ap.add_argument("--uri", default="sqlite:///mlflow.db", help="MLflow tracking URI")
    ap.add_argument("--sweep", default=None, help="only runs tagged sweep=ID (one multirun)")
    ap.add_argument("--baseline", default="hucb", help="policy the tests compare against")
    ap.add_argument("--out", type=Path, default=None, help="folder (default runs/compare/<experiment>)")
    ap.add_argument("--no-mlflow", action="store_true", help="write files only, no summary run")
    args = ap.parse_args(argv)
    from experiments.settings import resolve_uri

    uri = resolve_uri(args.uri, Path.cwd()) or args.uri
    out = args.out or Path("runs") / "compare" / args.experiment
    try:
        summary, rid = compare(uri, args.experiment, out, sweep=args.sweep,
                               baseline=args.baseline, log=not args.no_mlflow)
    except CompareError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(summary.read_text())
    print(f"comparison written to {summary.parent}" + (f"; MLflow summary run {rid}" if rid else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
