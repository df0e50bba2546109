"""Partition a captured graph into fusible groups, each matched to a template class.

One walk in graph order. Every node either joins the group of one of its inputs
(when the template can hold it and no cycle results), opens a group, or stays a
PyTorch step in ``forward``:

- ``pointwise``: elementwise ops over one iteration shape (inputs broadcast in);
- ``reduction``: reductions over one set of axes of one shape, with the pointwise
  work before them (``full`` space), between and after them (``full`` or ``row``
  space, e.g. softmax's normalize or layer norm's affine); cumulative sums and products
  along one axis (scans: ``full`` in, ``full`` out, a running carry along the row);
- ``matmul``: ``mm``/``addmm``/``bmm`` with the pointwise ops on its output fused
  into the epilogue.

A group's outputs are its values used outside it. Views, convolutions, pooling,
and every op without a formula stay PyTorch calls (``torch`` steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import fx

from strategies.graph import ops, row_ops

TEMPLATES = ("pointwise", "reduction", "matmul")


def shape_key(node: fx.Node) -> tuple[str, ...]:
    v = ops.val(node)
    return tuple(ops.size_str(s) for s in v.shape) if isinstance(v, torch.Tensor) else ()


@dataclass
class Group:
    gid: int
    template: str
    shape: tuple[str, ...]  # the iteration space (reduction: before reducing)
    red_dims: tuple[int, ...] = ()
    members: list[fx.Node] = field(default_factory=list)
    anchor: fx.Node | None = None  # the matmul node

    def row_shapes(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        keep = tuple("1" if d in self.red_dims else s for d, s in enumerate(self.shape))
        drop = tuple(s for d, s in enumerate(self.shape) if d not in self.red_dims)
        return keep, drop

    def total(self) -> bool:
        """A reduction to a single value per call (every axis of size > 1 reduced)."""
        return all(d in self.red_dims or s == "1" for d, s in enumerate(self.shape))

    def space(self, node: fx.Node) -> str | None:
        """``full``/``row`` for a node shape that fits this group, else None."""
        key = shape_key(node)
        if self.template != "reduction":
            return "full" if key == self.shape else None
        if key == self.shape:
            return "full"
        if key in self.row_shapes():
            return "row"
        return None


@dataclass
class Partition:
    groups: list[Group]
    group_of: dict[fx.Node, Group]
    nodes: list[fx.Node]

    def outputs(self, g: Group) -> list[fx.Node]:
        """Members whose value is used outside the group (stored by its kernel)."""
        return [n for n in g.members if any(self.group_of.get(u) is not g for u in n.users)]

    def inputs(self, g: Group) -> list[fx.Node]:
        """Values the group's kernel reads from outside it (`reads`)."""
        seen: list[fx.Node] = []
        for n in g.members:
            for a in reads(n):
                if self.group_of.get(a) is not g and a not in seen:
                    seen.append(a)
        return seen

    def torch_steps(self) -> list[fx.Node]:
        """The nodes ``forward`` runs with PyTorch, in graph order: those outside every
        group whose value the output, a kernel or another such step reads, and every
        mutating op. A step nothing reads (a constant inlined into each kernel that used
        it) is not run."""
        read = {a for g in self.groups for a in self.inputs(g)}
        live: list[fx.Node] = []
        for n in reversed(self.nodes):
            if n.op == "output":
                read.update(n.all_input_nodes)
            elif (n.op == "call_function" and n not in self.group_of
                  and (n in read or _mutating(n))):  # fmt: skip
                live.append(n)
                read.update(n.all_input_nodes)
        return live[::-1]


def reads(n: fx.Node) -> list[fx.Node]:
    """The values a group member's code reads: a formula's inputs (constants such as
    ``scalar_tensor(0)`` are inlined), a view's source (not its size arguments), a
    reduction's operand, a row gather's operand and index, a matmul's operands."""
    f = ops.pointwise(n)
    if f is not None:
        return list(f.inputs)
    if ops.op_name(n) in ops.VIEWS:
        return [n.args[0]]
    if row_ops.row_gather(n) is not None:
        return [n.args[0], n.args[2]]
    if row_ops.row_axes(n) is not None:
        return [n.args[0]]
    return list(n.all_input_nodes)


def _mutating(n: fx.Node) -> bool:
    t = n.target
    return isinstance(t, torch._ops.OpOverload) and t._schema.is_mutable


def _row_view(node: fx.Node, g: Group, src: fx.Node) -> bool:
    """A view of a row value that only adds or drops size-1 axes (stays a row value)."""
    if g.template != "reduction" or g.space(src) != "row" or ops.op_name(node) not in ops.VIEWS:
        return False
    return g.space(node) == "row"


def partition(gm: fx.GraphModule) -> Partition:
    nodes = list(gm.graph.nodes)
    groups: list[Group] = []
    group_of: dict[fx.Node, Group] = {}
    deps: dict[fx.Node, frozenset[int]] = {}

    def dep_ok(node: fx.Node, g: Group) -> bool:
        return all(
            group_of.get(a) is g or g.gid not in deps.get(a, frozenset())
            for a in node.all_input_nodes
        )

    def join(node: fx.Node, g: Group) -> None:
        g.members.append(node)
        group_of[node] = g

    def new(template: str, shape: tuple[str, ...], **kw: object) -> Group:
        g = Group(len(groups), template, shape, **kw)  # type: ignore[arg-type]
        groups.append(g)
        return g

    for node in nodes:
        if node.op != "call_function":
            deps[node] = frozenset()
            continue
        ins = node.all_input_nodes
        up = frozenset().union(*(deps.get(a, frozenset()) for a in ins)) if ins else frozenset()
        target: Group | None = None
        formula = ops.pointwise(node)
        dims = row_ops.row_axes(node)  # a reduction's axes, or a scan's (its output: full)
        if formula is not None:
            cands = [group_of[a] for a in formula.inputs if a in group_of]
            cands.sort(key=lambda g: ("reduction", "matmul", "pointwise").index(g.template))
            for g in cands:
                if g.space(node) is None or not dep_ok(node, g):
                    continue
                if g.space(node) == "row" and any(
                    g.space(a) == "full" and group_of.get(a) is g for a in formula.inputs
                ):
                    continue
                if (
                    g.template == "reduction"
                    and g.space(node) == "full"
                    and g.total()
                    and any(g.space(a) == "row" and group_of.get(a) is g for a in formula.inputs)
                ):
                    continue  # after a reduction to one value: a separate, parallel kernel
                target = g
                break
            if target is None and not cands:  # from outside values only, over the space
                # or the rows of a reduction (cosine's second input, cross-entropy's target
                # mask): computed inside that kernel, sharing its launch
                for g in reversed(groups):
                    if g.template == "reduction" and g.space(node) and dep_ok(node, g):
                        target = g
                        break
            if target is None:  # a sibling over the same space (shares loads and a launch)
                for g in reversed(groups):
                    if g.template == "pointwise" and g.shape == shape_key(node) and dep_ok(node, g):
                        target = g
                        break
            if target is None:
                target = new("pointwise", shape_key(node))
        elif dims is not None:
            x = node.args[0]
            g = group_of.get(x)
            if g is not None and dep_ok(node, g):
                if g.template == "reduction" and g.red_dims == dims and g.space(x) == "full":
                    target = g
                elif g.template == "pointwise" and g.shape == shape_key(x) and len(dims) > 0:
                    g.template, g.red_dims = "reduction", dims
                    target = g
            if target is None and dims:
                for g in reversed(groups):  # a sibling reduction over the same space and axes
                    if (g.template == "reduction" and g.red_dims == dims
                            and g.shape == shape_key(x) and dep_ok(node, g)):  # fmt: skip
                        target = g
                        break
            if target is None and dims:
                target = new("reduction", shape_key(x), red_dims=dims)
        elif row_ops.row_gather(node) is not None and node.args[0] in group_of:
            g = group_of[node.args[0]]
            d = row_ops.row_gather(node)
            fits = g.template == "reduction" and g.red_dims == (d,) and dep_ok(node, g)
            if fits and g.space(node.args[0]) == "full" and g.space(node) == "row":
                target = g
        elif ops.op_name(node) in ops.MATMULS and ops.val(node).dtype in ops.FLOATS:
            target = new("matmul", shape_key(node), anchor=node)
        elif ops.op_name(node) in ops.VIEWS and node.args and node.args[0] in group_of:
            g = group_of[node.args[0]]
            if _row_view(node, g, node.args[0]) and dep_ok(node, g):
                target = g
        if target is not None:
            join(node, target)
            up = up | {target.gid}
        deps[node] = up
    # a group with no real work (only identity copies) is not worth a kernel
    keep = [g for g in groups if any(_work(n) for n in g.members)]
    for g in groups:
        if g not in keep:
            for n in g.members:
                del group_of[n]
    for i, g in enumerate(keep):
        g.gid = i
    return Partition(keep, group_of, nodes)


def _work(node: fx.Node) -> bool:
    f = ops.pointwise(node)
    return f is None or f.template != "{0}" or ops.op_name(node) == "clone.default"
