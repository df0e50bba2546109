"""The template classes, in one explicit list.

A template is an emitter (one group's kernel and launch lines, from its parameters:
Triton, or CUDA C++ for a pointwise group with ``target="cuda"``) and a parameter space (a heuristic start, the catalog strategies as
moves, the number of distinct kernels). Adding a template class is one emitter
module, its space functions, an entry in `TEMPLATES`, and the partition rule that
forms its groups (`strategies.graph.partition`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strategies.graph import emit_matmul, emit_pointwise, emit_reduction, space, space_matmul
from strategies.graph.builder import Builder
from strategies.graph.render_util import Kernel
from strategies.graph.space import Facts, Params


@dataclass(frozen=True)
class Template:
    name: str
    emit: Callable[[Builder, Params, str], Kernel]
    initial: Callable[[Facts], Params]
    move: Callable[[str, Params, Facts], Params | None]
    size: Callable[[Facts], int]


TEMPLATES: tuple[Template, ...] = (
    Template("pointwise", emit_pointwise.emit, space.initial_pointwise, space.move_pointwise,
             space.size_pointwise),
    Template("reduction", emit_reduction.emit, space.initial_reduction, space.move_reduction,
             space.size_reduction),
    Template("matmul", emit_matmul.emit, space_matmul.initial_matmul, space_matmul.move_matmul,
             space_matmul.size_matmul),
)  # fmt: skip

BY_NAME = {t.name: t for t in TEMPLATES}


def initial(f: Facts) -> Params:
    return BY_NAME[f.template].initial(f)


def move(name: str, p: Params, f: Facts) -> Params | None:
    """Apply the strategy ``name`` (its catalog name part) to one group's parameters."""
    return BY_NAME[f.template].move(name, dict(p), f)


def size(f: Facts) -> int:
    return BY_NAME[f.template].size(f)
