"""Evaluate one candidate against one task from the command line.

    python -m profiling.evaluate --task softmax --candidate my_kernel.py \\
        [--device cuda|interpret|auto] [--size smoke | k=v,...] [--json] \\
        [--trials N] [--baseline compile] [--extra-size SPEC ...] [--timeout S]

Exit status: 0 when the evaluation ran (whatever the verdict), 2 on a user
error (missing file, no ``ModelNew``, unknown task or size, no GPU for
``--device cuda``), with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from profiling.channel import finite_or_none
from profiling.errors import UserError
from profiling.evaluator import EvalSettings, WorkerEvaluator, WorkerStartError, resolve_device
from profiling.measurement import Measurement
from profiling.tasks import Task, TaskError, load_task, module_defines_model_new, parse_python


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m profiling.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, help="bundled task name or path to a KernelBench file")
    p.add_argument(
        "--tasks-dir", type=Path, default=Path("experiments/tasks"),
        help="folder of the tasks --task names (default: experiments/tasks of the current folder, "
             "the bundled tasks when run from the project root)",
    )
    p.add_argument("--candidate", required=True, help="Python file defining ModelNew")
    p.add_argument("--device", default="auto", choices=("cuda", "interpret", "auto"))
    p.add_argument("--size", default=None, help="size preset or k=v,... (default: the file's own)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--trials", type=int, default=5, help="correctness trials (fresh inputs each)")
    p.add_argument(
        "--baseline", choices=("compile",), default=None, help="also time torch.compile(reference)"
    )
    p.add_argument(
        "--extra-size", action="append", default=[], help="another size checked for correctness"
    )
    p.add_argument(
        "--timeout", type=float, default=EvalSettings.timeout_s, help="seconds per evaluation"
    )
    p.add_argument(
        "--no-floor-check",
        action="store_true",
        help="do not reject results below the roofline floor",
    )
    return p


def defines_model_new(source: str) -> bool | None:
    """True/False when the source parses; None on a syntax error (left to the evaluator)."""
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError):
        return None
    return module_defines_model_new(tree)


def _prepare(args: argparse.Namespace) -> tuple[Task, str, EvalSettings]:
    if args.trials < 1:
        raise UserError("--trials must be at least 1")
    if args.timeout <= 0:
        raise UserError("--timeout must be positive")
    task = load_task(args.task, args.size, tasks_dir=args.tasks_dir)
    for spec in args.extra_size:
        task.with_size(spec)  # validate now: a bad spec is a user error
    path = Path(args.candidate)
    if not path.is_file():
        raise UserError(f"candidate file not found: {args.candidate}")
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read candidate file {args.candidate}: {e}") from e
    if defines_model_new(source) is False:
        raise UserError(
            f"{args.candidate} defines no ModelNew (a KernelBench candidate needs class ModelNew)"
        )
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        raise UserError(str(e)) from e
    if device == "cuda" and args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is available (use --device interpret)")
    settings = EvalSettings(
        device=device,
        trials=args.trials,
        extra_sizes=tuple(args.extra_size),
        baseline_compile=args.baseline == "compile",
        timeout_s=args.timeout,
        check_floor=not args.no_floor_check,
    )
    return task, source, settings


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g} ms"


def render(m: Measurement, task: Task) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    status_style = "green" if m.ok else "red"
    title = escape(f"{task.name} [{task.size}] on {m.device} ({m.timing_kind} timing)")
    t = Table(title=title, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    t.add_row("status", f"[{status_style}]{m.status.value}[/]")
    if m.error:
        t.add_row("error", escape(m.error))
    t.add_row("trials", str(m.trials))
    if m.max_rel_error is not None:
        t.add_row("max rel. error", f"{m.max_rel_error:.3g}")
    shape = m.shapes[0] if m.shapes else None
    if shape and shape.candidate:
        c, r = shape.candidate, shape.reference
        t.add_row(
            "candidate",
            f"{_fmt_ms(c.median_ms)}  (p20 {c.p20_ms:.4g}, p80 {c.p80_ms:.4g}, {c.reps} reps)",
        )
        if r:
            t.add_row(
                "reference",
                f"{_fmt_ms(r.median_ms)}  (p20 {r.p20_ms:.4g}, p80 {r.p80_ms:.4g}, {r.reps} reps)",
            )
        if m.speedup is not None:
            t.add_row("speedup", f"{m.speedup:.3g}x")
        if m.compile_runtime_ms is not None:
            t.add_row("torch.compile", _fmt_ms(m.compile_runtime_ms))
            t.add_row(
                "speedup vs compile",
                f"{m.speedup_vs_compile:.3g}x" if m.speedup_vs_compile else "-",
            )
    if m.floor is not None:
        f = m.floor
        compute = (
            f"; {f.flops:.3g} FLOPs from the {f.flops_source or 'task'} at the {f.peak} peak"
            if f.flops and f.peak else ""
        )
        t.add_row("roofline floor", f"{_fmt_ms(f.ms)} ({f.bound}-bound{compute})")
        if m.roofline_fraction is not None:
            t.add_row("fraction of floor", f"{m.roofline_fraction:.2f}")
    for s in m.shapes[1:]:
        t.add_row(f"size {s.size}", "correct" if m.ok else "-")
    if m.resources:
        t.add_row("resources", ", ".join(f"{k}={v:g}" for k, v in m.resources.items()))
    t.add_row("wall", f"{m.wall_s:.2f} s")
    Console().print(t)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        task, source, settings = _prepare(args)
    except (UserError, TaskError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        with WorkerEvaluator(settings) as ev:
            m = ev.evaluate(task, source)
    except WorkerStartError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if args.json:
        d = finite_or_none({"task": task.name, "size": task.size, **m.to_dict()})
        print(json.dumps(d))
    else:
        render(m, task)
    return 0


if __name__ == "__main__":
    sys.exit(main())
