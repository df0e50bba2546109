"""The offline realizer (``realizer=offline``, alias ``graph``): deterministic kernels for
any KernelBench problem, the bundled tasks included, with no network and no API key.

It captures the task's reference (`strategies.graph.capture`), partitions the graph
into template groups (`strategies.graph.partition`), and renders a ``ModelNew``
module (`strategies.graph.render`) from per-group parameters. A catalog strategy
is a move in one group's parameter space (`strategies.graph.space`, `strategies.graph.space_matmul`). Generated
files carry their parameters in a header line, so any of them can be a parent; any
other parent (the reference, an LLM's kernel) starts from the size heuristic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.graph import templates
from strategies.graph.plan import Plan, plan_for
from strategies.graph.render import PARAMS_MARKER, render
from strategies.graph.space import CUDA_START, FAST_MATH
from strategies.graph.space_matmul import OPTIONAL
from strategies.types import BaseRealizer, Realization, RealizeRequest

OPTIONAL_KEYS = frozenset((*OPTIONAL, *CUDA_START, *FAST_MATH))  # present only once their move is on
_PARAMS_RE = re.compile("^" + re.escape(PARAMS_MARKER) + r"(\{.*\})\s*$", re.MULTILINE)


def parse_params(source: str) -> dict[str, Any] | None:
    """The parameters in a generated module's ``# kernel-bandit-params:`` header, or None
    (another source: the reference, an LLM's kernel, a header of another realizer)."""
    m = _PARAMS_RE.search(source)
    if not m:
        return None
    try:
        found = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) and found.get("kind") == "graph" else None


def parent_params(plan: Plan, source: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parent's parameters when they fit this plan's groups, else the heuristic start."""
    start = plan.initial()
    found = parse_params(source)
    if found is None and given.get("kind") == "graph":
        found = dict(given)
    groups = (found or {}).get("groups")
    if not isinstance(groups, list) or len(groups) != len(start["groups"]):
        return start
    merged = []
    for init, got in zip(start["groups"], groups, strict=True):
        if not isinstance(got, dict) or set(got) - OPTIONAL_KEYS != set(init) - OPTIONAL_KEYS:
            return start
        merged.append(got)
    return {"groups": merged}


def apply(plan: Plan, strategy_id: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The strategy as a move on the heaviest group it changes, or None."""
    name = strategy_id.rsplit("/", 1)[-1]
    groups = list(params["groups"])
    for i in plan.order():
        new = templates.move(name, groups[i], plan.facts[i])
        if new is not None:
            groups[i] = new
            return {"groups": groups}
    return None


class GraphRealizer(BaseRealizer):
    """Realizer over the graph templates (`strategies.graph`), for every task."""

    name = "offline"
    deterministic = True

    def __init__(self, allow_tf32: bool = False) -> None:
        self.allow_tf32 = allow_tf32  # the user's opt-in: fp32 matmuls may use TF32 products

    def plan(self, request: RealizeRequest) -> Plan:
        """The task's plan for this request's GPU (its SM count) and precision opt-in."""
        plan = plan_for(request.task).on_gpu(request.gpu.sm_count)
        return plan.allowing_tf32() if self.allow_tf32 else plan

    def check_task(self, task: Task) -> None:
        plan_for(task)

    def can_realize(self, request: RealizeRequest) -> bool:
        try:
            plan = self.plan(request)
        except RealizerError:
            return False
        params = parent_params(plan, request.parent_source, request.parent_params)
        return apply(plan, request.strategy.id, params) is not None

    def realize(self, request: RealizeRequest) -> Realization:
        try:
            plan = self.plan(request)
        except RealizerError as e:
            return Realization(None, error=str(e))
        params = parent_params(plan, request.parent_source, request.parent_params)
        new = apply(plan, request.strategy.id, params)
        if new is None:
            return Realization(
                None,
                error=f"graph realizer: {request.strategy.id} changes no group of {plan.summary}",
                params={"kind": "graph", **params},
            )
        try:
            source = render_plan(plan, new)
        except Exception as e:  # a template bug must not stop the tuning loop
            return Realization(None, error=f"graph realizer failed on {request.strategy.id}: {e!r}")
        return Realization(source=source, params={"kind": "graph", **new})


def render_plan(plan: Plan, params: Mapping[str, Any]) -> str:
    return render(plan.cap, plan.part, params, plan.reference, plan.summary)


def initial_source(task: Task) -> str:
    """The heuristic-start kernel of a task (RealizerError when it cannot be generated)."""
    plan = plan_for(task)
    return render_plan(plan, plan.initial())
