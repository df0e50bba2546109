"""The arithmetic a task's roofline floor counts when its module declares none.

The harness (:mod:`profiling.roofline`) floors a kernel at max(bytes / bandwidth,
FLOPs / matmul peak), but it may not import the graph realizer that knows what a
reference computes. So the count is made here, above it, from the same graph
analysis the LLM prompt quotes (:func:`strategies.graph.analysis.analyze`), and
travels down on the task spec (``Task.analysed_flops``) to the worker, where a
module's own ``get_flops()`` still wins. A reference that cannot be captured keeps
a memory-only floor, as before.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from profiling.tasks import Task, parse_python
from strategies.errors import RealizerError


def declares_flops(task: Task) -> bool:
    """Whether the task module binds ``get_flops`` at top level (its count then wins)."""
    for node in parse_python(task.module_source(), filename=task.path).body:
        if isinstance(node, ast.FunctionDef) and node.name == "get_flops":
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "get_flops" for t in node.targets
        ):
            return True
    return False


def analysed_flops(task: Task) -> int | None:
    """The FLOPs of the task's reference at its size, by the graph analysis; None when
    it cannot be captured or counts none."""
    from strategies.graph.analysis import analyze  # imports torch
    from strategies.graph.plan import graph_plan

    try:
        flops = analyze(graph_plan(task)).flops
    except RealizerError:
        return None
    return flops if flops > 0 else None


def with_analysed_flops(task: Task) -> Task:
    """The task carrying its analysed FLOPs for the roofline floor; unchanged when its
    module declares ``get_flops``, when it already carries a count, or when its
    reference cannot be analysed."""
    if task.analysed_flops is not None or declares_flops(task):
        return task
    flops = analysed_flops(task)
    return task if flops is None else replace(task, analysed_flops=flops)
