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

Output reads the same in a terminal and in a log: progress is a bar on a terminal
and one plain line per iteration otherwise (``progress=auto|bar|plain``); the
summary is a table on a terminal and aligned plain text otherwise (nothing cut).
Everything also goes through the ``kernel_bandit`` logger into the run's
``tune.log`` (Hydra's job log; a resume appends to the resumed run's). A run that
stops before it starts (a user error) or a resume leaves no empty run folder.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
import yaml
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from bandit.flops import with_analysed_flops
from bandit.observer import Observer
from bandit.policies import make_policy
from bandit.records import TuneResult
from bandit.rounds import run_rounds
from bandit.tuner import TuneError, Tuner, TunerParts
from experiments import TASKS_DIR
from experiments.hardware import clusterer, hardware, profiling_line
from experiments.progress import log, make_progress
from experiments.report import RunDirWriter
from experiments.run_folder import drop_if_unused, log_into
from experiments.settings import TuneSettings, flatten
from experiments.summary import render_plain, render_tables
from profiling.errors import UserError
from profiling.probes.session import ProbeSession
from profiling.tasks import Task, TaskError, load_task
from strategies.errors import RealizerError
from strategies.types import Realizer

if TYPE_CHECKING:
    from experiments.tracking import MlflowTracker
    from strategies.catalog import Catalog

CONFIG_FILE = "config.yaml"
RUN_LOG = "runlog.jsonl"
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    hydra_dir = Path(hc.runtime.output_dir)
    sweep = (str(hc.sweep.dir), int(hc.job.num)) if hc.mode == RunMode.MULTIRUN else None
    try:
        code = run_app(cfg, sweep=sweep)
    finally:
        drop_if_unused(hydra_dir)
    if code:
        raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    """Check the overrides first (a bad one: one line, exit 2, before Hydra makes a
    folder or prints its multi-line report), then hand over to Hydra."""
    from experiments.overrides import check_overrides
    from experiments.settings import TOP_LEVEL
    from profiling.affinity import pin_from_env

    try:
        pin_from_env()  # KB_CPUS: this run's share of the host's cores, before anything starts
    except ValueError as e:
        _say(Console(stderr=True, highlight=False), f"error: {e}")
        return EXIT_USER_ERROR
    problem = check_overrides(sys.argv[1:] if argv is None else argv, TOP_LEVEL)
    if problem:
        _say(Console(stderr=True, highlight=False), f"error: {problem}")
        return EXIT_USER_ERROR
    _hydra_main()
    return 0


def run_app(
    cfg: DictConfig | Mapping[str, Any],
    run_dir: Path | None = None,
    out: Console | None = None,
    err: Console | None = None,
    sweep: tuple[str, int] | None = None,
) -> int:
    """Run one tuning run from a composed config; returns the exit code.

    `run_dir` defaults to Hydra's output directory (or the resumed run's folder).
    `sweep`: the sweep folder and job number of a multirun job (tagged in MLflow).
    """
    out = out or Console()
    err = err or Console(stderr=True, highlight=False)
    try:
        plain, run_dir, resumed = _prepare(cfg, run_dir)
        if not resumed and (run_dir / RUN_LOG).is_file():  # never overwrite another run
            raise UserError(
                f"{run_dir} already holds a run: continue it with resume={run_dir}, "
                "or choose another run directory"
            )
        log_into(run_dir)
        if resumed:
            _say(
                err,
                f"resuming {run_dir} with its saved {CONFIG_FILE} (other overrides are ignored)",
            )
        settings = TuneSettings.from_plain(plain)
        task, device, note = _task_and_device(settings)
        if note:
            _say(err, note)
        if device != "replay":  # a replay's floors are recorded ones
            task = with_analysed_flops(task)  # the roofline floor's FLOPs (bandit.flops)
        plain = _effective(plain, task, device, settings)
        settings = TuneSettings.from_plain(plain)
        policy = make_policy(settings.policy.name, settings.seed, **settings.policy.options)
        realizer = _realizer(settings)
        realizer.check_task(task)  # e.g. a lone convolution leaves the offline realizer nothing
        catalog = _catalog()
        offered = catalog.runnable(task.kind, device)  # the arms' strategies
    except (UserError, TaskError, ValueError, RealizerError) as e:
        _say(err, f"error: {_one_line(e)}")
        return EXIT_USER_ERROR

    run_dir.mkdir(parents=True, exist_ok=True)
    if not resumed:
        (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(plain, sort_keys=False))

    from experiments.evaluation import open_evaluation
    from profiling.evaluator import WorkerStartError

    try:
        evaluation = open_evaluation(settings, task, device, realizer)
    except UserError as e:
        realizer.close()
        _say(err, f"error: {_one_line(e)}")
        return EXIT_USER_ERROR
    for note in evaluation.notes:
        _say(err, note)
    progress = make_progress(settings.progress, settings.budget.iterations, console=err)
    info = {
        "task": f"{settings.task.name} (size {task.size}) on {device}",
        "policy / realizer": f"{settings.policy.name} / {settings.realizer.model}",
        "seed": str(settings.seed),
        "run directory": str(run_dir),
    }
    if sweep is not None:
        info["sweep"] = f"{sweep[0]} (job {sweep[1]})"
    tracker: MlflowTracker | None = None
    writer = RunDirWriter(run_dir, info=info, extra_rows=lambda: _mlflow_rows(settings, tracker))
    observers: list[Observer] = [progress, writer]
    tracker = _tracker(settings, writer, plain, err, sweep, evaluation.landscape)
    if tracker is not None:
        observers.append(tracker)
    try:
        with evaluation.executor as executor, ProbeSession(
            settings.probe, lambda line: _say(err, line)
        ) as probes:
            tuner = Tuner(
                task,
                executor,
                realizer,
                policy,
                catalog,
                settings=settings.tuner(),
                parts=TunerParts(
                    run_log=run_dir / RUN_LOG,
                    observers=observers,
                    clusterer=clusterer(settings.hardware, settings.seed),
                    hardware=hardware(settings, task, device, offered, probes),
                    meta={"config": plain},
                    clock=evaluation.clock,
                ),
            )
            try:
                tuner.start()  # measures the reference, or restores a resumed run
            except ValueError as e:  # a run log that belongs to another run
                raise TuneError(str(e)) from e
            if settings.executor.batch > 1:
                result = run_rounds(tuner, executor, settings.budget, settings.executor.batch)
            else:
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

    _print_summary(out, writer, result)
    if tuner.hardware.enabled:
        _say(out, profiling_line(tuner.hardware))
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
    if want == "replay":  # a recorded landscape of the task at its size (see experiments.evaluation)
        return load_task(settings.task.name, settings.task.size, TASKS_DIR), "replay", None
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


def _realizer(settings: TuneSettings) -> Realizer:
    from strategies.factory import build_realizer

    return build_realizer(settings.realizer.name, dict(settings.realizer.options))


def _catalog() -> Catalog:
    """The bundled strategy catalog; the tuner offers its strategies for the task's kind on
    the device (`Catalog.runnable`: one meaning of `applies`)."""
    from strategies.catalog import load_catalog

    return load_catalog()


def run_name(settings: TuneSettings, run_dir: Path, sweep: tuple[str, int] | None) -> str:
    """A unique MLflow run name: task, policy, seed, and the run folder or sweep job."""
    head = f"{settings.task.name}-{settings.policy.name}-s{settings.seed}"
    if sweep is not None:
        folder = Path(sweep[0])
        return f"{head}-sweep-{folder.parent.name}_{folder.name}-job{sweep[1]}"
    return f"{head}-{run_dir.parent.name}_{run_dir.name}"


def _tracker(
    settings: TuneSettings,
    writer: RunDirWriter,
    plain: dict,
    err: Console,
    sweep: tuple[str, int] | None = None,
    landscape: str | None = None,
) -> MlflowTracker | None:
    if not settings.tracking.enabled:
        return None
    from experiments.tracking import MlflowTracker

    params = flatten({k: v for k, v in plain.items() if k != "resume"})
    tags = {"realizer_model": settings.realizer.model, "seed": str(settings.seed)}
    if sweep is not None:
        tags.update(sweep=sweep[0], sweep_job=str(sweep[1]))  # experiments.compare --sweep
    if landscape is not None:
        tags["replay"] = landscape[:5000]
    name = run_name(settings, writer.run_dir, sweep)
    return MlflowTracker(
        settings.tracking,
        writer,
        params,
        tags,
        run_name=name,
        warn=lambda m: _say(err, f"warning: {m}"),
    )


# -- output ----------------------------------------------------------------------------


def _mlflow_rows(settings: TuneSettings, tracker: MlflowTracker | None) -> list[tuple[str, str]]:
    if tracker is None or tracker.failed is not None or tracker.run_id is None:
        return [("MLflow run", "not tracked")]
    from experiments.tracking import ui_url

    uri = settings.tracking.uri or ""
    return [
        ("MLflow run", tracker.run_id),
        ("MLflow charts", ui_url(str(tracker.experiment_id), tracker.run_id)),
        ("MLflow UI", f"mlflow ui --backend-store-uri {uri}"),
    ]


def _print_summary(out: Console, writer: RunDirWriter, result: TuneResult) -> None:
    """A table on a terminal; aligned plain text otherwise (nothing wrapped or cut).
    The plain text also goes to the log."""
    rows, families = writer.summary(result)
    text = render_plain(rows, families)
    log.info(text)
    if out.is_terminal:
        for table in render_tables(rows, families):
            out.print(table)
    else:
        out.print(text, soft_wrap=True, markup=False, highlight=False)


def _say(console: Console, line: str) -> None:
    """One plain line (no markup, no wrapping): errors, warnings, notes; logged too."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)
    log.log(logging.WARNING if line.startswith(("error", "warning")) else logging.INFO, line)


def _one_line(e: BaseException | str) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


if __name__ == "__main__":
    sys.exit(main())
