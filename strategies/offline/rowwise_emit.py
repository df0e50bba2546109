"""Source-text building blocks of the row-wise generators (`softmax_like`, `norms`).

Rendered modules hold tuning constants at module level (``BLOCK``, ``ROWS``,
``NUM_WARPS``, ...), run-time launch helpers, ``@triton.jit`` kernels whose
programs own ``ROWS`` rows (`row_tile`), and a ``ModelNew`` launching them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from strategies.offline.rowwise_common import FALLBACK_SMS, MAX_BLOCK


class Emitter:
    """Builds indented Python source line by line."""

    def __init__(self, level: int = 0) -> None:
        self.lines: list[str] = []
        self.level = level

    def __call__(self, *lines: str) -> None:
        for line in lines:
            self.lines.append(("    " * self.level + line) if line else "")

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self(header)
        self.level += 1
        try:
            yield
        finally:
            self.level -= 1

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


IMPORTS = """\
import torch
import torch.nn as nn
import triton
import triton.language as tl
"""


def constants_block(p: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """Module-level tuning constants of a rendered kernel."""
    e = Emitter()
    if p["variant"] != "row":
        e(f"BLOCK = {p['block']}  # columns per loop step")
    e(f"ROWS = {p['rows']}  # rows per program")
    e(f"NUM_WARPS = {p['num_warps']}")
    e(f"NUM_STAGES = {p['num_stages']}")
    if p["vec"] > 1:
        e(f"VEC = {p['vec']}  # row length and strides are multiples of VEC when possible")
    if p["variant"] == "split":
        e(f"SPLITS = {p['splits']}  # programs per row")
    if p["persistent"]:
        e(f"PROGRAMS_PER_SM = {max(1, 32 // p['num_warps'])}")
    for k, val in (extra or {}).items():
        e(f"{k} = {val!r}")
    e(f"MAX_BLOCK = {MAX_BLOCK}")
    return e.text()


def launch_helpers(p: Mapping[str, Any]) -> list[str]:
    """Run-time helpers a rendered module needs (grid size, vector width, alignment)."""
    out = []
    if p["persistent"]:
        e = Emitter()
        with e.block("def _num_programs(n_tiles: int, device: torch.device) -> int:"):
            with e.block('if device.type == "cuda":'):
                e("sms = torch.cuda.get_device_properties(device).multi_processor_count")
            with e.block("else:  # Triton interpreter on the CPU"):
                e(f"sms = {FALLBACK_SMS}")
            e("return max(1, min(n_tiles, sms * PROGRAMS_PER_SM))")
        out.append(e.text())
    if p["vec"] > 1:
        e = Emitter()
        with e.block("def _vec(n_cols: int, *tensors: torch.Tensor) -> int:"):
            e('"""VEC when every row starts on a VEC-element boundary, else 1."""')
            with e.block("for t in tensors:"):
                e("if t.stride(0) % VEC or t.data_ptr() % (VEC * t.element_size()):")
                e("    return 1")
            e("return VEC if n_cols % VEC == 0 else 1")
        out.append(e.text())
    if p["align"]:
        e = Emitter()
        with e.block("def _align(*tensors: torch.Tensor) -> int:"):
            e('"""Largest power of two (<= 16) dividing every row stride, in elements."""')
            e("a = 16")
            with e.block("for t in tensors:"), e.block("while t.stride(0) % a:"):
                e("a //= 2")
            e("return a")
        out.append(e.text())
    return out


def assemble(*sections: str | list[str]) -> str:
    """Top-level sections (or lists of them) separated by two blank lines."""
    flat: list[str] = []
    for s in sections:
        flat.extend(s if isinstance(s, list) else [s])
    return "\n\n\n".join(x.strip("\n") for x in flat if x.strip()) + "\n"


def tile_constexprs(p: Mapping[str, Any]) -> list[str]:
    out = ["ROWS: tl.constexpr", "BLOCK: tl.constexpr", "NUM_STAGES: tl.constexpr"]
    if p["vec"] > 1:
        out.append("VEC: tl.constexpr")
    if p["align"]:
        out.append("ALIGN: tl.constexpr")
    return out


def launch_constexprs(p: Mapping[str, Any], block: str, tensors: Sequence[str]) -> str:
    """Keyword arguments matching `tile_constexprs` for a launch in ``forward``."""
    args = ["ROWS=rows", f"BLOCK={block}", "NUM_STAGES=NUM_STAGES"]
    if p["vec"] > 1:
        args.append(f"VEC=_vec(n_cols, {', '.join(tensors)})")
    if p["align"]:
        args.append(f"ALIGN=_align({', '.join(tensors)})")
    args += ["num_warps=NUM_WARPS", "num_stages=NUM_STAGES"]
    return ", ".join(args)


@contextmanager
def row_tile(
    e: Emitter,
    p: Mapping[str, Any],
    ptrs: Sequence[tuple[str, str]],
    hoisted: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Program prologue: which rows this program owns, and one row pointer per tensor.

    ``ptrs`` are (pointer argument, stride argument) pairs, e.g. ("x_ptr", "stride_x");
    each yields a ``<name>_row`` ``[ROWS, 1]`` pointer block (``x_row``). ``hoisted``
    emits row-independent code (weight loads) before a persistent program's tile loop.
    """
    vector_columns(e, p, ptrs)
    e("pid = tl.program_id(0)")
    if hoisted is not None:
        hoisted()
    if p["persistent"]:
        e("n_tiles = tl.cdiv(n_rows, ROWS)")
        stages = ", num_stages=NUM_STAGES" if p["variant"] == "row" else ""
        e(f"for tile in tl.range(pid, n_tiles, tl.num_programs(0){stages}):")
        e.level += 1
    else:
        e("tile = pid")
    e("rows = tile * ROWS + tl.arange(0, ROWS)")
    row_pointers(e, p, ptrs)
    try:
        yield
    finally:
        if p["persistent"]:
            e.level -= 1


def vector_columns(e: Emitter, p: Mapping[str, Any], ptrs: Sequence[tuple[str, str]]) -> None:
    """wider_vectors: round the column count and row strides down to whole vectors."""
    if p["vec"] > 1:
        e("# wider_vectors: the launcher checked that these are multiples of VEC")
        e("n_cols = n_cols // VEC * VEC")
        for _, stride in ptrs:
            e(f"{stride} = {stride} // VEC * VEC")


def row_pointers(e: Emitter, p: Mapping[str, Any], ptrs: Sequence[tuple[str, str]]) -> None:
    """Given ``rows``: the row mask and one ``<name>_row`` pointer block per tensor."""
    e("row_mask = rows < n_rows")
    e("rows64 = rows.to(tl.int64)")
    for ptr, stride in ptrs:
        base = ptr.removesuffix("_ptr")
        if p["align"]:
            e(f"{base}_row = {ptr} + tl.multiple_of(rows64 * {stride}, ALIGN)[:, None]")
        else:
            e(f"{base}_row = {ptr} + (rows64 * {stride})[:, None]")


def cols_expr(p: Mapping[str, Any], start: str | None) -> str:
    """The column offsets of one chunk (a ``[BLOCK]`` tensor)."""
    base = "tl.arange(0, BLOCK)"
    if p["align"]:
        base = "tl.max_contiguous(tl.multiple_of(tl.arange(0, BLOCK), BLOCK), BLOCK)"
    return base if start is None else f"{start} + {base}"


def chunk_loop(p: Mapping[str, Any], start: str = "0", end: str = "n_cols") -> str:
    return f"for start in tl.range({start}, {end}, BLOCK, num_stages=NUM_STAGES):"


def load(ptr: str, mask: str, other: str, policy: str | None) -> str:
    """fp32 load; ``policy`` an eviction policy (``evict_first``/``evict_last``) or None."""
    ev = f', eviction_policy="{policy}"' if policy else ""
    return f"tl.load({ptr}, mask={mask}, other={other}{ev}).to(tl.float32)"


def store(ptr: str, value: str, mask: str, evict: bool) -> str:
    ev = ', eviction_policy="evict_first"' if evict else ""
    return f"tl.store({ptr}, {value}, mask={mask}{ev})"


def pass_policy(p: Mapping[str, Any], last: bool) -> str | None:
    """Eviction policy of a row load: keep rows in L2 for a re-read, stream the last read."""
    if not p["evict"]:
        return None
    return "evict_first" if last else "evict_last"


def weight_policy(p: Mapping[str, Any]) -> str | None:
    return "evict_last" if p["evict"] else None


def docstring(kind: str, p: Mapping[str, Any], what: str) -> str:
    knobs = ", ".join(f"{k}={p[k]}" for k in sorted(p))
    doc = f'"""Offline-generated Triton kernel for `{kind}`: {what}.\n\nParameters: {knobs}.\n"""\n'
    return doc + "\n" + IMPORTS


def row_launch_block(p: Mapping[str, Any]) -> list[str]:
    """Lines in ``forward`` choosing ``block`` and ``rows`` (tile shape) at run time."""
    if p["variant"] == "row":
        return [
            "block = triton.next_power_of_2(n_cols)",
            "if block > MAX_BLOCK:",
            "    raise ValueError(f'row of {n_cols} elements is too long to hold in registers')",
            "rows = max(1, min(ROWS, MAX_BLOCK // block))",
        ]
    return ["block = BLOCK", "rows = ROWS"]


def grid_lines(p: Mapping[str, Any], device: str = "x.device") -> list[str]:
    if p["persistent"]:
        return [f"grid = (_num_programs(triton.cdiv(n_rows, rows), {device}),)"]
    return ["grid = (triton.cdiv(n_rows, rows),)"]
