"""Realize one strategy into a candidate file, or list the strategy catalog.

    python -m strategies.realize --list [--task softmax]
    python -m strategies.realize --task softmax --strategy tiling/rows_per_program \\
        [--realizer offline|openai] [--parent f.py] [--out g.py] [--size smoke]
    python -m strategies.realize --task softmax --strategy fusion/fuse_elementwise \\
        --realizer openai --base-url http://localhost:8000/v1 --model my-model

The candidate goes to ``--out`` (or stdout); its cost and any error go to
stderr. Exit status: 0 written, 1 the realizer produced no candidate, 2 a
usage problem (unknown task or strategy, bad realizer configuration).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from profiling.hardware import GpuFacts, local_gpu_facts
from profiling.tasks import TaskError, load_task
from strategies.cache import CACHE_MODES
from strategies.catalog import Catalog, load_catalog
from strategies.errors import CatalogError, RealizerError
from strategies.factory import REALIZER_KINDS, build_realizer
from strategies.graph.realizer import parse_params
from strategies.types import Realization, RealizeRequest


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        catalog = load_catalog(args.catalog)
        if args.list:
            kind = load_task(args.task, tasks_dir=args.tasks_dir).kind if args.task else None
            print_catalog(catalog, kind=kind)
            return 0
        if not args.task or not args.strategy:
            raise RealizerError("give --task and --strategy (or --list)")
        result = realize_one(args, catalog)
    except (TaskError, CatalogError, RealizerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cost = result.cost
    print(
        f"cost: {cost.prompt_tokens} prompt + {cost.completion_tokens} completion tokens, "
        f"${cost.usd:.4f}, {cost.seconds:.1f} s, {cost.calls} call(s)",
        file=sys.stderr,
    )
    if result.source is None:
        print(f"no candidate: {result.error}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(result.source)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(result.source)
    return 0


def realize_one(args: argparse.Namespace, catalog: Catalog) -> Realization:
    task = load_task(args.task, size=args.size, tasks_dir=args.tasks_dir)
    try:
        strategy = catalog.get(args.strategy)
    except KeyError as e:
        raise RealizerError(e.args[0]) from None
    if not catalog.applies(strategy, task.kind):
        raise RealizerError(
            f"strategy {strategy.id} does not apply to task kind {task.kind!r} "
            f"(applies to: {', '.join(strategy.applies_to)})"
        )
    if args.parent:
        try:
            parent = Path(args.parent).read_text()
        except OSError as e:
            raise RealizerError(f"cannot read parent {args.parent}: {e.strerror or e}") from e
    else:
        parent = task.module_source()
    realizer = build_realizer(args.realizer, _options(args))
    request = RealizeRequest(
        task=task,
        strategy=strategy,
        parent_source=parent,
        parent_params=parse_params(parent) or {},
        gpu=local_gpu_facts() if args.realizer == "openai" else GpuFacts(),
        seed=args.seed,
    )
    try:
        realizer.check_task(task)
        return realizer.realize(request)
    finally:
        realizer.close()


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The openai realizer's options given on the command line; the rest keep the
    `OpenAIConfig` defaults."""
    if args.realizer != "openai":
        return {}
    given = {
        "base_url": args.base_url,
        "model": args.model,
        "api_key_env": args.api_key_env,
        "cache": args.cache,
        "cache_dir": args.cache_dir,
    }
    return {k: v for k, v in given.items() if v is not None}


def print_catalog(catalog: Catalog, kind: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    strategies = catalog.for_kind(kind) if kind else catalog.strategies
    title = f"strategy catalog ({len(strategies)} strategies" + (f" for {kind})" if kind else ")")
    table = Table(title=title)
    for col in ("id", "resource", "applies to", "target", "description"):
        table.add_column(col, overflow="fold")
    for s in strategies:
        table.add_row(s.id, s.resource, ", ".join(s.applies_to) or "all", s.target, s.description)
    Console(width=max(160, _terminal_width())).print(table)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m strategies.realize",
        description="Realize one strategy into a KernelBench ModelNew candidate, or list the catalog.",
    )
    p.add_argument("--list", action="store_true", help="print the strategy catalog (for --task's kind)")
    p.add_argument("--task", help="bundled task name or path to a KernelBench file")
    p.add_argument(
        "--tasks-dir", type=Path, default=Path("experiments/tasks"),
        help="folder of the tasks --task names (default: experiments/tasks of the current folder, "
             "the bundled tasks when run from the project root)",
    )
    p.add_argument("--strategy", help="strategy id, family/name (see --list)")
    p.add_argument("--realizer", choices=REALIZER_KINDS, default="offline")
    p.add_argument("--parent", help="the kernel to refine (default: the task's reference)")
    p.add_argument("--out", help="write the candidate here (default: stdout)")
    p.add_argument("--size", help="size preset or k=v,... for the task")
    p.add_argument("--seed", type=int, default=0, help="sample index (keys the response cache)")
    p.add_argument("--catalog", type=Path, help="another catalog YAML file")
    llm = p.add_argument_group("openai realizer (unset: strategies.openai_realizer.OpenAIConfig)")
    env = os.environ.get
    llm.add_argument("--base-url", default=env("OPENAI_BASE_URL"), help="endpoint (env OPENAI_BASE_URL)")
    llm.add_argument("--model", default=env("OPENAI_MODEL"), help="model name (env OPENAI_MODEL)")
    llm.add_argument("--api-key-env", help="variable holding the API key (default OPENAI_API_KEY)")
    llm.add_argument("--cache", choices=CACHE_MODES, help="response cache mode (default read_write)")
    llm.add_argument("--cache-dir", help="response cache folder (default .cache/llm)")
    return p


if __name__ == "__main__":
    sys.exit(main())
