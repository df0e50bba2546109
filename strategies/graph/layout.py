"""Index math for a group: which axes each tensor spans, axis collapsing, addresses.

A group iterates over its shape S. Each tensor it reads or writes is aligned to the
space of the node that uses it (right-aligned broadcasting, as PyTorch does) and
mapped onto S's axes; an axis of size 1 in the tensor is a broadcast (stride 0).
Adjacent axes of S that every tensor spans alike (both present or both absent,
and on the same side of the reduction) collapse into one, so a contiguous tensor
over the whole space is addressed by one linear index and a bias over the last
axis by one modulo. Strides come from the tensors at run time (``t.stride(k)``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy

from strategies.graph.partition import Group


@dataclass(frozen=True)
class Access:
    """One tensor a kernel reads or writes."""

    ptr: str  # kernel argument name ("in0", "out1")
    tensor: str  # forward-side Python expression
    space: str  # "full" or "row"
    axes: tuple[int | None, ...]  # per axis of S: the tensor's own dim, or None (broadcast)
    dense: bool = False  # contiguous over exactly the group's (full or row) space
    strides: tuple[str, ...] = ()  # the tensor's strides at capture time


@dataclass(frozen=True)
class Dim:
    """A collapsed axis: S axes ``members`` (outer to inner), reduced or kept."""

    members: tuple[int, ...]
    reduced: bool


def align(shape: tuple[str, ...], space_shape_axes: tuple[int, ...]) -> tuple[int | None, ...]:
    """Right-align a tensor shape to a node space given by S axes; per S axis its dim or None."""
    out: dict[int, int | None] = {}
    n, m = len(shape), len(space_shape_axes)
    for j, ax in enumerate(space_shape_axes):
        k = j - (m - n)
        out[ax] = k if 0 <= k < n and shape[k] != "1" else None
    return tuple(out.get(ax) for ax in range(max(space_shape_axes, default=-1) + 1))


def space_axes(g: Group, space: str, rank: int) -> tuple[int, ...]:
    """S axes a value of ``space`` with ``rank`` dims lines up with."""
    if space == "full" or rank == len(g.shape):
        return tuple(range(len(g.shape)))
    return tuple(d for d in range(len(g.shape)) if d not in g.red_dims)


def make_access(
    g: Group, ptr: str, tensor: str, shape: tuple[str, ...], space: str, strides: tuple[str, ...]
) -> Access:
    axes_for = space_axes(g, space, len(shape))
    aligned = align(shape, axes_for)
    axes = tuple(aligned[d] if d < len(aligned) else None for d in range(len(g.shape)))
    keep, drop = g.row_shapes()
    if space == "full":
        dense = shape == g.shape and (not g.red_dims or _innermost(g))
    else:
        dense = shape in (keep, drop)
    return Access(ptr, tensor, space, axes, dense and _contiguous(shape, strides), strides)


@functools.cache
def same(a: str, b: str) -> bool:
    """Whether two size expressions are equal for every value of their symbols."""
    if a == b:
        return True
    try:
        return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0
    except (sympy.SympifyError, TypeError):
        return False


def _contiguous(shape: tuple[str, ...], strides: tuple[str, ...]) -> bool:
    expect = "1"
    for size, stride in zip(reversed(shape), reversed(strides), strict=True):
        if size != "1" and not same(stride, expect):
            return False
        expect = f"({size})*({expect})"
    return True


def _mergeable(a: Access, outer: int, inner: int, shape: tuple[str, ...]) -> bool:
    ko, ki = a.axes[outer], a.axes[inner]
    if ko is None or ki is None:
        return ko is None and ki is None
    if not a.strides:
        return True
    so, si = a.strides[ko], a.strides[ki]
    return same(so, f"({shape[inner]})*({si})")


def _innermost(g: Group) -> bool:
    r = len(g.shape)
    return tuple(g.red_dims) == tuple(range(r - len(g.red_dims), r))


def collapse(g: Group, accesses: list[Access]) -> list[Dim]:
    """Collapsed axes of S (size-1 axes dropped), outer to inner."""
    dims: list[Dim] = []
    for d, size in enumerate(g.shape):
        if size == "1":
            continue
        red = d in g.red_dims
        if dims and dims[-1].reduced == red and dims[-1].members[-1] == d - 1:
            prev = dims[-1].members[-1]
            if all(_mergeable(a, prev, d, g.shape) for a in accesses):
                dims[-1] = Dim((*dims[-1].members, d), red)
                continue
        dims.append(Dim((d,), red))
    return dims


def size_expr(g: Group, dim: Dim) -> str:
    return " * ".join(f"({g.shape[d]})" for d in dim.members) or "1"


def coords(dims: list[Dim], index: str, prefix: str, sizes: list[str]) -> list[str]:
    """Kernel lines splitting ``index`` into one coordinate per dim (``{prefix}{i}``)."""
    if len(dims) == 1:
        return [f"{prefix}0 = {index}"]
    lines = [f"{prefix}_t = {index}"]
    for i in range(len(dims) - 1, 0, -1):
        lines.append(f"{prefix}{i} = {prefix}_t % {sizes[i]}")
        lines.append(f"{prefix}_t = {prefix}_t // {sizes[i]}")
    lines.append(f"{prefix}0 = {prefix}_t")
    return lines


def constant_along_row(loads: list[Access], dims: list[Dim]) -> set[str]:
    """Strided full-space operands constant along a reduction's contiguous (innermost,
    reduced) axis, such as a per-channel weight across a group norm's H x W. Read unmasked at
    `clamped` coordinates, their equal addresses merge into one load (ptxas keeps every
    predicated load: 128 a thread instead of 16 in 41_groupnorm's one-pass kernel)."""
    if not dims or not dims[-1].reduced:
        return set()
    inner = dims[-1].members[-1]
    return {a.ptr for a in loads if not a.dense and a.space == "full" and a.axes[inner] is None}


def clamped(n: int, prefix: str, size: str, extent: str) -> list[str]:
    """Coordinates ``{prefix}c{i}`` that stay inside the tensor for masked lanes too: the
    inner ones are remainders already, the outermost is clamped to its last index (from the
    unclamped quotient, so lanes of one vector keep one provably equal address)."""
    inner = " * ".join(f"{size}{i}" for i in range(1, n)) or "1"
    last = f"({extent} - 1) // ({inner})" if n > 1 else f"{extent} - 1"
    return [f"{prefix}c0 = tl.minimum({prefix}0, {last})",
            *(f"{prefix}c{i} = {prefix}{i}" for i in range(1, n))]  # fmt: skip


def stride_args(a: Access, dims: list[Dim]) -> list[tuple[str, str]]:
    """(kernel arg, forward expr) strides of a strided access, one per spanned collapsed dim."""
    out = []
    for i, dim in enumerate(dims):
        inner = dim.members[-1]
        k = a.axes[inner]
        if k is not None:
            out.append((f"{a.ptr}_s{i}", f"{a.tensor}.stride({k})"))
    return out


def address(a: Access, dims: list[Dim], kept: str, red: str) -> str:
    """Offset expression of a strided access from per-dim coordinates ``kept{i}``/``red{i}``."""
    terms = []
    ki = ri = 0
    for i, dim in enumerate(dims):
        c = f"{red}{ri}" if dim.reduced else f"{kept}{ki}"
        if dim.reduced:
            ri += 1
        else:
            ki += 1
        if a.axes[dim.members[-1]] is not None:
            terms.append(f"{c} * {a.ptr}_s{i}")
    return " + ".join(terms) or "0"
