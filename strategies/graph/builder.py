"""Shared kernel-building state for one group: operands, loads, stores, scalar arguments.

Templates ask `Builder.compute(member, space)` for a member's Triton line; operands
that live outside the group become loads (through a template-supplied address
function) or scalar arguments. Every value is fp32 in registers (bool for masks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import fx

from strategies.graph import ops
from strategies.graph.layout import Access, make_access
from strategies.graph.partition import Group, Partition, shape_key

NEG_INF = "float('-inf')"


def fwd(node: fx.Node) -> str:
    """The forward-side Python variable holding a node's value."""
    return f"v_{node.name}"


def reg(node: fx.Node) -> str:
    """The kernel-side register variable of a member."""
    return f"r_{node.name}"


def strides_of(node: fx.Node) -> tuple[str, ...]:
    v = ops.val(node)
    return tuple(ops.size_str(s) for s in v.stride()) if isinstance(v, torch.Tensor) else ()


def contiguous_strides(shape: tuple[str, ...]) -> tuple[str, ...]:
    out, acc = [], "1"
    for s in reversed(shape):
        out.append(acc)
        acc = s if acc == "1" else f"({s})*({acc})"
    return tuple(reversed(out))


@dataclass
class Scope:
    """Registers already defined in the current kernel scope (a pass or a loop body)."""

    loaded: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    # loads whose masked lanes read -inf (``Builder.operand(..., other=NEG_INF)``)
    neg_inf: set[str] = field(default_factory=set)


class Builder:
    def __init__(self, part: Partition, g: Group) -> None:
        self.part, self.g = part, g
        self.members = set(g.members)
        self.loads: dict[tuple[fx.Node, str], Access] = {}
        self.scalars: dict[fx.Node, str] = {}
        self.stores: list[tuple[fx.Node, Access]] = []
        self.evict = False  # streaming loads and stores (evict_first)
        self.fast = False  # logs on the approximate log2 (``fast_math``; `ops.fast_math`)
        self.suffix = ""  # while set: full-space registers and loads get it (a point evaluation)
        # loads whose addresses are in bounds for every lane (clamped coordinates): no mask
        self.in_bounds: set[str] = set()
        for i, out in enumerate(part.outputs(g)):
            shape = shape_key(out)
            space = g.space(out) or "full"
            acc = make_access(g, f"out{i}", fwd(out), shape, space, contiguous_strides(shape))
            self.stores.append((out, acc))

    def space(self, node: fx.Node) -> str:
        return self.g.space(node) or "full"

    def name(self, node: fx.Node) -> str:
        """A member's register: `reg`, plus ``suffix`` for full-space values while a
        point evaluation (one column a row) runs beside the full tiles."""
        return reg(node) + self.suffix if self.suffix and self.space(node) == "full" else reg(node)

    def access(self, node: fx.Node, space: str) -> Access:
        key = (node, space)
        if key not in self.loads:
            ptr = f"in{len(self.loads)}"
            self.loads[key] = make_access(
                self.g, ptr, fwd(node), shape_key(node), space, strides_of(node)
            )
        return self.loads[key]

    def operand(self, a: fx.Node, space: str, scope: Scope, addr: Callable[[Access], str],
                mask: str | None, other: str = "0") -> str:  # fmt: skip
        """A member's register, a scalar argument, or a load of an input. ``other``: what a
        float load the mask leaves out reads (0 unless a caller asks; one asking for -inf
        finds the register in ``scope.neg_inf`` when this call loaded it so)."""
        if a in self.members:
            return self.name(a)
        if not ops.is_tensor(a):
            if a not in self.scalars:
                self.scalars[a] = f"scalar{len(self.scalars)}"
            return self.scalars[a]
        acc = self.access(a, space)
        var = f"x_{acc.ptr}{self.suffix}"
        if var not in scope.loaded:
            scope.loaded.add(var)
            dtype = ops.val(a).dtype
            where = addr(acc)
            if (acc.ptr in self.in_bounds and not self.suffix) or where == "0":
                mask = None  # in bounds for every lane, or one element for the whole block
            if mask is None or dtype not in ops.FLOATS:
                other = "0"
            if other == NEG_INF:
                scope.neg_inf.add(var)
            scope.lines.append(f"{var} = {load(acc, where, mask, dtype, self.evict, other)}")
        return var

    def compute(self, node: fx.Node, scope: Scope, addr: Callable[[Access], str],
                mask: str | None) -> None:  # fmt: skip
        """Append the member's line (and any loads it needs) to ``scope``."""
        space = self.space(node)
        f = ops.pointwise(node)
        if f is not None:
            args = [self.operand(a, space, scope, addr, mask) for a in f.inputs]
            expr = f.template.format(*args)
            scope.lines.append(f"{self.name(node)} = {ops.fast_math(expr) if self.fast else expr}")
            return
        if ops.op_name(node) in ops.VIEWS:  # a row value re-viewed: same registers
            src = node.args[0]
            scope.lines.append(f"{self.name(node)} = {self.operand(src, space, scope, addr, mask)}")
            return
        raise ValueError(f"node {node.name} ({ops.op_name(node)}) is not pointwise")


def load(
    acc: Access, addr: str, mask: str | None, dtype: torch.dtype, evict: bool = False,
    other: str = "0",
) -> str:  # fmt: skip
    extra = f", mask={mask}, other={other}" if mask else ""
    if evict:
        extra += ', eviction_policy="evict_first"'
    text = f"tl.load({acc.ptr} + {addr}{extra})"
    return f"{text}.to(tl.float32)" if dtype in ops.FLOATS else text


def store(acc: Access, addr: str, value: str, mask: str | None, evict: bool = False) -> str:
    extra = f", mask={mask}" if mask else ""
    if evict:
        extra += ', eviction_policy="evict_first"'
    return f"tl.store({acc.ptr} + {addr}, {value}.to({acc.ptr}.dtype.element_ty){extra})"


def kernel_args(b: Builder) -> list[tuple[str, str]]:
    """(kernel arg, forward expr) for every pointer and scalar, in signature order."""
    out = [(a.ptr, a.tensor) for a in b.loads.values()]
    out += [(a.ptr, a.tensor) for _, a in b.stores]
    out += [(name, fwd(node)) for node, name in b.scalars.items()]
    return out
