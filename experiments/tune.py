"""Hydra entry point for one tuning run: ``python -m experiments.tune [overrides]``.

Examples::

    python -m experiments.tune                                   # softmax, hucb, offline realizer
    python -m experiments.tune task=layernorm policy=ucb budget.iterations=40 seed=3
    python -m experiments.tune device=interpret task.size=smoke tracking=none
    python -m experiments.tune -m policy=hucb,ucb,random seed=0,1   # a sweep, one MLflow experiment
    python -m experiments.tune resume=runs/2026-01-01/12-00-00       # continue a stopped run

The whole config is resolved here into typed records (`experiments.settings`);
nothing below sees a DictConfig. User errors (unknown task or policy, bad value,
unreachable endpoint, wrong API key) print one line on stderr and exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
import yaml
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from bandit.observer import Observer
from bandit.policies import make_policy
from bandit.records import TuneResult
from bandit.tuner import TuneError, Tuner
from experiments import TASKS_DIR
from experiments.progress import ProgressBar
from experiments.report import BEST_KERNEL, RunDirWriter, summary_tables
from experiments.settings import TuneSettings, flatten
from profiling.errors import UserError
from profiling.tasks import Task, TaskError, load_task
from strategies.errors import RealizerError
from strategies.types import Realizer, Strategy

if TYPE_CHECKING:
    from experiments.tracking import MlflowTracker
    from profiling.evaluator import EvalSettings

CONFIG_FILE = "config.yaml"
RUN_LOG = "runlog.jsonl"
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    code = run_app(cfg)
    if code:
        raise SystemExit(code)


def run_app(
    cfg: DictConfig | Mapping[str, Any],
    run_dir: Path | None = None,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    """Run one tuning run from a composed config; returns the exit code.

    `run_dir` defaults to Hydra's output directory (or the resumed run's folder).
    """
    out = out or Console()
    err = err or Console(stderr=True, highlight=False)
    try:
        plain, run_dir, resumed = _prepare(cfg, run_dir)
        if resumed:
            _say(
                err,
                f"resuming {run_dir} with its saved {CONFIG_FILE} (other overrides are ignored)",
            )
        settings = TuneSettings.from_plain(plain)
        task, device, note = _task_and_device(settings)
        if note:
            _say(err, note)
        plain = _effective(plain, task, device, settings)
        settings = TuneSettings.from_plain(plain)
        policy = make_policy(settings.policy.name, settings.seed, **settings.policy.options)
        realizer = _realizer(settings)
        realizer.check_task(task)  # e.g. the offline realizer knows only the bundled kinds
        strategies = _strategies(task.kind)
    except (UserError, TaskError, ValueError, RealizerError) as e:
        _say(err, f"error: {_one_line(e)}")
        return EXIT_USER_ERROR

    run_dir.mkdir(parents=True, exist_ok=True)
    if not resumed:
        (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(plain, sort_keys=False))

    from profiling.evaluator import WorkerEvaluator, WorkerStartError

    progress = ProgressBar(settings.budget.iterations, console=err)
    writer = RunDirWriter(run_dir)
    observers: list[Observer] = [progress, writer]
    tracker = _tracker(settings, writer, plain, err)
    if tracker is not None:
        observers.append(tracker)
    try:
        with WorkerEvaluator(_eval_settings(settings, device)) as evaluator:
            tuner = Tuner(
                task,
                evaluator,
                realizer,
                policy,
                strategies,
                settings=settings.tuner(),
                run_log=run_dir / RUN_LOG,
                observers=observers,
                meta={"config": plain},
            )
            try:
                tuner.start()  # measures the reference, or restores a resumed run
            except ValueError as e:  # a run log that belongs to another run
                raise TuneError(str(e)) from e
            result = tuner.run(settings.budget)
    except TuneError as e:
        progress.stop()
        _say(err, f"error: {_one_line(e)}")
        return EXIT_USER_ERROR
    except WorkerStartError as e:  # the environment, not the user's config
        progress.stop()
        _say(err, f"error: the evaluation worker did not start: {_one_line(e)}")
        return 1
    finally:
        progress.stop()
        realizer.close()

    _print_summary(out, result, settings, device, run_dir, tracker)
    if result.error is not None:
        _say(
            err,
            f"error: {_one_line(result.error)} (run stopped; measured kernels are kept in {run_dir})",
        )
        return EXIT_USER_ERROR
    if result.stop_reason == "interrupted":
        return EXIT_INTERRUPTED
    return 0


# -- config ----------------------------------------------------------------------------


def _prepare(cfg: DictConfig | Mapping[str, Any], run_dir: Path | None) -> tuple[dict, Path, bool]:
    """The plain config and the run directory; a resume loads the run's saved config."""
    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    assert isinstance(plain, dict)
    plain.pop("hydra", None)
    resume = plain.get("resume")
    if resume:
        folder = Path(str(resume)).expanduser().resolve()
        saved = folder / CONFIG_FILE
        if not saved.is_file():
            raise UserError(f"cannot resume {resume}: no {CONFIG_FILE} there (not a run directory)")
        plain = yaml.safe_load(saved.read_text())
        plain["resume"] = str(folder)
        return plain, folder, True
    if run_dir is None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
    return plain, Path(run_dir), False


def _task_and_device(settings: TuneSettings) -> tuple[Task, str, str | None]:
    """Load the task and resolve the device; without CUDA, `auto` is a smoke-size dry run."""
    from profiling.evaluator import resolve_device

    want = settings.device.name
    device = resolve_device(want)
    if want == "cuda" and device != "cuda":
        raise UserError("device=cuda but no CUDA device is visible (use device=interpret or auto)")
    size = settings.task.size
    note = None
    if want == "auto" and device == "interpret":
        task = load_task(settings.task.name, size, TASKS_DIR)
        if size is None and "smoke" in task.presets:
            size = "smoke"
            task = task.with_size(size)
        note = (
            "No CUDA device found: this is an interpreter dry run "
            f"(device=interpret, task.size={size or 'default'}); timings are CPU interpreter time."
        )
        return task, device, note
    return load_task(settings.task.name, size, TASKS_DIR), device, None


def _effective(plain: dict, task: Task, device: str, settings: TuneSettings) -> dict:
    """The config as run (what a resume reuses): the resolved device, task size and
    tracking URI (relative paths anchored at the launch directory)."""
    size = None if task.size == "default" else task.size
    return {
        **plain,
        "task": {**plain["task"], "size": size},
        "device": {**plain["device"], "resolved": device},
        "tracking": {**plain["tracking"], "uri": settings.tracking.uri},
    }


def _eval_settings(settings: TuneSettings, device: str) -> EvalSettings:
    """The device section with the resolved device (torch.compile timed on CUDA only)."""
    ev = settings.device.evaluation
    return replace(ev, device=device, baseline_compile=ev.baseline_compile and device == "cuda")


def _realizer(settings: TuneSettings) -> Realizer:
    from strategies.factory import build_realizer

    return build_realizer(settings.realizer.name, dict(settings.realizer.options))


def _strategies(kind: str) -> tuple[Strategy, ...]:
    """The catalog's strategies for this task kind (`Catalog.for_kind`: one `applies`)."""
    from strategies.catalog import load_catalog

    return load_catalog().for_kind(kind)


def _tracker(
    settings: TuneSettings, writer: RunDirWriter, plain: dict, err: Console
) -> MlflowTracker | None:
    if not settings.tracking.enabled:
        return None
    from experiments.tracking import MlflowTracker

    params = flatten({k: v for k, v in plain.items() if k != "resume"})
    tags = {"realizer_model": settings.realizer.model, "seed": str(settings.seed)}
    name = f"{settings.task.name}-{settings.policy.name}-s{settings.seed}"
    return MlflowTracker(
        settings.tracking,
        writer,
        params,
        tags,
        run_name=name,
        warn=lambda m: _say(err, f"warning: {m}"),
    )


# -- output ----------------------------------------------------------------------------


def _print_summary(
    out: Console,
    result: TuneResult,
    settings: TuneSettings,
    device: str,
    run_dir: Path,
    tracker: MlflowTracker | None,
) -> None:
    info = {
        "task": f"{settings.task.name} (size {settings.task.size or 'default'}) on {device}",
        "policy / realizer": f"{settings.policy.name} / {settings.realizer.model}",
        "seed": str(settings.seed),
        "run directory": str(run_dir),
    }
    best_path = run_dir / BEST_KERNEL
    run_id = tracker.run_id if tracker is not None and tracker.failed is None else None
    summary, families = summary_tables(
        result, info, best_path if best_path.is_file() else None, run_id
    )
    out.print(summary)
    out.print(families)


def _say(console: Console, line: str) -> None:
    """One plain line (no markup, no wrapping): errors, warnings, notes."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)


def _one_line(e: BaseException | str) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


if __name__ == "__main__":
    sys.exit(main())
