"""``realizer=offline`` (and ``graph``): the graph templates for every task, the bundled kinds' tuned
per-kind generators kept for those eleven kinds until the templates match their H200
figures (``realizer=graph`` uses the templates for the bundled kinds too).
"""

from __future__ import annotations

from profiling.tasks import Task
from strategies.graph.realizer import GraphRealizer
from strategies.offline.realizer import OfflineRealizer as KindRealizer
from strategies.offline.realizer import offline_kinds
from strategies.types import BaseRealizer, Realization, RealizeRequest


class OfflineRealizer(BaseRealizer):
    """Deterministic, no network: per-kind generators for bundled kinds, templates otherwise."""

    name = "offline"
    deterministic = True

    def __init__(self, templates_only: bool = False, allow_tf32: bool = False) -> None:
        self.kinds = KindRealizer()
        self.graph = GraphRealizer(allow_tf32=allow_tf32)
        self.templates_only = templates_only
        if templates_only:
            self.name = "graph"

    def _for(self, task: Task) -> BaseRealizer:
        if not self.templates_only and task.kind in offline_kinds():
            return self.kinds
        return self.graph

    def code_packages(self, task: Task) -> tuple[str, ...]:
        """Landscapes of a bundled kind follow its generator, the others the templates."""
        return ("strategies.graph",) if self._for(task) is self.graph else ("strategies.offline",)

    def check_task(self, task: Task) -> None:
        self._for(task).check_task(task)

    def can_realize(self, request: RealizeRequest) -> bool:
        return self._for(request.task).can_realize(request)

    def realize(self, request: RealizeRequest) -> Realization:
        return self._for(request.task).realize(request)
