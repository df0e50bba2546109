"""Shared machinery of the row-wise generators (softmax-like reductions and norms).

Every row-wise kernel processes a 2-D ``(n_rows, n_cols)`` view, ``ROWS`` rows per
program, and is one of four *variants*:

- ``loop``   (default, naive): chunks of ``BLOCK`` columns, one pass per statistic
  (softmax: max, sum, write = three reads of the row);
- ``online``: a single statistics pass (online max/sum, Welford), then the write pass;
- ``row``:    the whole row in registers (``BLOCK = next_pow2(n_cols)`` chosen at run
  time), one read and one write per element;
- ``split``:  long rows split over ``SPLITS`` programs plus a combine step.

Parameters (all kinds): ``variant rows block num_warps num_stages vec align evict
persistent``; softmax-like kinds add ``splits``, ``residual_add_rmsnorm`` adds
``fused``. Strategy ids are matched by their name part (``parallelism/warps_up`` ->
``warps_up``) so the generators do not depend on the catalog's family names.
This module holds parameters and strategies; `rowwise_emit` the source building blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from profiling.tasks import Task
from strategies.offline.base import Params

WARPS = (1, 2, 4, 8, 16, 32)
MIN_BLOCK = 32
MAX_BLOCK = 65536  # elements of one tile (launch-time check in rendered modules)
MAX_TILE = 32768  # ROWS * BLOCK cap the strategies respect (register pressure)
MAX_ROWS = 64
MAX_STAGES = 5
MAX_SPLITS = 64
MAX_VEC = 8
FALLBACK_SMS = 4  # persistent grids without a CUDA device (the interpreter)

# names of the module constant holding the row length, by preference
_DIM_NAMES = ("dim", "num_classes", "n_cols", "hidden", "hidden_size", "vocab_size", "N")
_ROW_NAMES = ("batch_size", "rows", "n_rows", "tokens", "M")

COMMON_STRATEGIES = (
    "rows_per_program",
    "block_size_up",
    "block_size_down",
    "row_in_registers",
    "chunked_loop",
    "wider_vectors",
    "alignment_hints",
    "streaming_eviction",
    "stages_up",
    "stages_down",
    "warps_up",
    "warps_down",
    "persistent",
)
# every strategy name some row-wise generator implements
ROWWISE_STRATEGIES = (*COMMON_STRATEGIES, "single_pass_online", "split_row", "fuse_epilogue")


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def task_constants(task: Task) -> dict[str, Any]:
    """The task's module constants with its size overrides applied."""
    return dict(task.constants)


def task_dims(task: Task) -> tuple[int, int]:
    """(rows, row length) of the task's primary input, from its size constants."""
    c = task_constants(task)
    dim = next((c[k] for k in _DIM_NAMES if isinstance(c.get(k), int)), 4096)
    rows = next((c[k] for k in _ROW_NAMES if isinstance(c.get(k), int)), 4096)
    return int(rows), int(dim)


def suggest_warps(elems: int) -> int:
    """Warps for a program holding ``elems`` fp32 values in registers (~32 a thread)."""
    return max(2, min(16, next_pow2(elems) // 1024))


def base_defaults(task: Task) -> Params:
    """The naive kernel: three-ish passes over 1024-column chunks, one row a program."""
    _, dim = task_dims(task)
    return {
        "variant": "loop",
        "rows": 1,
        # chunks of at most 1024 columns, at least four chunks a row where possible
        "block": max(MIN_BLOCK, min(1024, next_pow2(dim) // 4)),
        "num_warps": 4,
        "num_stages": 2,
        "vec": 1,
        "align": False,
        "evict": False,
        "persistent": False,
    }


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> Params | None:
    return None if dict(new) == dict(old) else dict(new)


def tile_elems(p: Mapping[str, Any], dim: int) -> int:
    return p["rows"] * (next_pow2(dim) if p["variant"] == "row" else p["block"])


def has_loop(p: Mapping[str, Any]) -> bool:
    return p["variant"] != "row" or bool(p["persistent"])


def apply_common(
    name: str, p: Mapping[str, Any], dim: int, variants: Sequence[str]
) -> Params | None:
    """The strategies every row-wise kind shares; None = not applicable / no change."""
    q = dict(p)
    v = q["variant"]
    np2 = next_pow2(dim)
    if name == "rows_per_program":
        if v == "split" or q["rows"] >= MAX_ROWS or 2 * tile_elems(q, dim) > MAX_TILE:
            return None
        q["rows"] *= 2
    elif name in ("block_size_up", "block_size_down"):
        if v == "row":
            return None
        b = q["block"] * 2 if name == "block_size_up" else q["block"] // 2
        if b < MIN_BLOCK or b > min(MAX_BLOCK, max(MIN_BLOCK, np2)) or b * q["rows"] > MAX_TILE:
            return None
        q["block"] = b
    elif name == "row_in_registers":
        if v == "row" or "row" not in variants or np2 > MAX_BLOCK:
            return None
        rows = q["rows"] if v != "split" else 1
        q.update(variant="row", rows=max(1, min(rows, MAX_TILE // np2)))
        q["num_warps"] = suggest_warps(q["rows"] * np2)
    elif name == "chunked_loop":
        if v == "loop":
            return None
        q["variant"] = "loop"
        q["block"] = max(MIN_BLOCK, min(q["block"], np2, MAX_TILE // q["rows"]))
    elif name == "single_pass_online":
        if v == "online" or "online" not in variants:
            return None
        q["variant"] = "online"
        q["block"] = max(MIN_BLOCK, min(q["block"], np2, MAX_TILE // q["rows"]))
    elif name == "split_row":
        if "split" not in variants:
            return None
        if v == "split":
            if q["splits"] * 2 > MAX_SPLITS or q["splits"] * 2 * MIN_BLOCK > max(dim, MIN_BLOCK):
                return None
            q["splits"] *= 2
        else:
            q.update(variant="split", rows=1, persistent=False, splits=max(2, q.get("splits", 4)))
            q["block"] = max(MIN_BLOCK, min(q["block"], np2))
    elif name == "wider_vectors":
        if q["vec"] >= MAX_VEC:
            return None
        q["vec"] = 4 if q["vec"] < 4 else q["vec"] * 2
    elif name == "alignment_hints":
        q["align"] = True
    elif name == "streaming_eviction":
        q["evict"] = True
    elif name in ("stages_up", "stages_down"):
        if not has_loop(q):
            return None
        s = q["num_stages"] + (1 if name == "stages_up" else -1)
        if not 1 <= s <= MAX_STAGES:
            return None
        q["num_stages"] = s
    elif name == "warps_up":
        w = q["num_warps"] * 2
        if w > 32 or w * 32 > tile_elems(q, dim):
            return None
        q["num_warps"] = w
    elif name == "warps_down":
        if q["num_warps"] <= 1:
            return None
        q["num_warps"] //= 2
    elif name == "persistent":
        if v == "split" or q["persistent"]:
            return None
        q["persistent"] = True
    else:
        return None
    return _changed(p, q)
