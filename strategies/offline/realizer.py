"""The offline realizer: deterministic Triton source from per-kind generators, no network.

A parent written by this realizer carries its parameters in a header line
(`strategies.offline.base.parse_params`); any other parent (the task's reference,
an LLM's kernel) is treated as the kind's default kernel, and the strategy is
applied to those defaults. Zero tokens, zero dollars; the same request always
gives the same source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strategies.offline  # noqa: F401 - registers every generator module
from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.offline.base import Generator, Params, generators, parse_params, render_module
from strategies.types import BaseRealizer, Realization, RealizeRequest


def offline_kinds() -> tuple[str, ...]:
    """Task kinds that have an offline generator."""
    return tuple(sorted(generators()))


def _generator(kind: str) -> Generator | None:
    return generators().get(kind)


def default_source(task: Task) -> str:
    """The default (naive but correct) offline kernel for a task."""
    gen = _generator(task.kind)
    if gen is None:
        known = ", ".join(offline_kinds()) or "none"
        raise RealizerError(f"no offline generator for kind {task.kind} (known: {known})")
    return render_module(gen, gen.defaults(task))


def parent_params(gen: Generator, task: Task, source: str, given: Mapping[str, Any]) -> Params:
    """The parent's parameters: its header, else ``given`` (same kind), else the defaults.

    Missing keys (a header from an older generator) are filled from the defaults.
    """
    defaults = gen.defaults(task)
    found = parse_params(source)
    if found is None and given and given.get("kind", gen.kind) == gen.kind:
        found = dict(given)
    if found is None or found.get("kind", gen.kind) != gen.kind:
        return defaults
    found.pop("kind", None)
    return {**defaults, **{k: v for k, v in found.items() if k in defaults}}


class OfflineRealizer(BaseRealizer):
    """Realizer over the registered offline generators (`strategies.offline.base`)."""

    name = "offline"
    deterministic = True  # the same request always gives the same source

    def check_task(self, task: Task) -> None:
        """Raise RealizerError (one line) when no generator knows the task's kind."""
        if _generator(task.kind) is None:
            raise RealizerError(
                f"the offline realizer has no generator for task kind {task.kind!r} "
                f"(it knows {', '.join(offline_kinds())}); use realizer=openai for other tasks"
            )

    def can_realize(self, request: RealizeRequest) -> bool:
        """Whether `realize` would produce a new kernel (cheap: no source is rendered).

        The tuner masks arms whose strategy this realizer would decline for the
        parent at hand, so no iteration is spent on a known no-op.
        """
        task, strategy = request.task, request.strategy
        gen = _generator(task.kind)
        if gen is None or not strategy.applies(task.kind):
            return False
        params = parent_params(gen, task, request.parent_source, request.parent_params)
        try:
            return gen.apply(strategy.id, dict(params), task) is not None
        except Exception:  # realize() reports the generator's failure as a failed realization
            return True

    def realize(self, request: RealizeRequest) -> Realization:
        task, strategy = request.task, request.strategy
        gen = _generator(task.kind)
        if gen is None:
            return Realization(None, error=f"no offline generator for kind {task.kind}")
        if not strategy.applies(task.kind):
            return Realization(
                None, error=f"strategy {strategy.id} does not apply to kind {task.kind}"
            )
        params = parent_params(gen, task, request.parent_source, request.parent_params)
        try:
            new = gen.apply(strategy.id, dict(params), task)
            if new is None:
                return Realization(
                    None,
                    error=(
                        f"offline generator for {task.kind}: strategy {strategy.id} is not "
                        f"applicable to the parent kernel or would not change it "
                        f"({_summary(params)})"
                    ),
                    params=params,
                )
            source = render_module(gen, new)
        except Exception as e:  # a generator bug must not stop the tuning loop
            return Realization(
                None, error=f"offline generator for {task.kind} failed on {strategy.id}: {e!r}"
            )
        return Realization(source=source, params=new)


def _summary(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={params[k]}" for k in sorted(params))
