"""The templates' parameter spaces: heuristic start, catalog moves, size of the space.

A catalog strategy is a move in the space of one group: the realizer offers it to
the groups in order of their weight (bytes moved, or FLOPs for a matmul) and the
first group where it changes something takes it. Moves are pure functions of
(params, group facts) and return None when they would not apply (the tuner then
masks that arm for this parent). Some moves jump several steps (``wider_vectors``
sizes the block for 16-byte accesses at once; ``chunked_loop`` and
``row_in_registers`` switch the reduction mode and resize the chunk).

This module: the facts, the shared move helpers, the pointwise and reduction spaces;
the matmul space is `strategies.graph.space_matmul`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Params = dict[str, Any]

WARPS = (1, 2, 4, 8, 16)
SPLITS = (1, 4, 16, 64, 256, 1024)
PERSISTENT = (0, 1, 2, 4, 8)
MAX_NUMEL = 2**20  # Triton's largest block (TRITON_MAX_TENSOR_NUMEL); the interpreter skips it
MAX_PER_THREAD = 128  # reduction: block elements a thread holds (registers, not spills)
WHOLE_REREAD = 32768  # reduction: longest row held whole when a loop would read it twice
THREADS = (64, 128, 256, 512, 1024)  # pointwise CUDA: threads a block
# a pointwise group's CUDA C++ rendering (``vectorization/cuda_vec4``): these keys are
# present only once it is on, so every kernel written before it existed keeps its source
CUDA_START: Params = {"target": "cuda", "threads": 256, "streaming": False}
# a Triton reduction's or pointwise group's logs on the approximate log2 (`fast_math`):
# present only once on, like CUDA_START's keys
FAST_MATH = ("fast_math",)


@dataclass(frozen=True)
class Facts:
    """What a move may look at: the group's template, sizes at the task's size, dtype."""

    template: str
    numel: int  # iteration space elements (reduction: R * C; matmul: B * M * N)
    rows: int = 1  # reduction: kept elements R; matmul: M
    cols: int = 1  # reduction: reduced elements C; matmul: N
    depth: int = 1  # matmul: K
    itemsize: int = 4
    innermost: bool = True  # reduction over the innermost axes
    weight: float = 0.0  # bytes (or FLOP-equivalent) the group moves: the move order
    splittable: bool = False  # reduction: rows may be split across programs (split_row)
    transposed: bool = False  # pointwise: an input is contiguous along another axis than the output
    online: bool = False  # reduction: a sum(exp(x - max(x))) that can run online with its max
    welford: bool = False  # reduction: a variance that can run in one pass (Welford)
    rereads: bool = False  # reduction: a chunked loop reads the row again (`reduction_parts.rereads`)
    fp32_dot: bool = False  # matmul: fp32 operands (3xTF32 or IEEE products unless TF32 is opted in)
    tf32: bool = False  # the task (PRECISION) or the user (realizer.allow_tf32) accepts TF32
    epilogue: bool = False  # matmul: the group has pointwise work beyond the bare product
    tma: bool = False  # matmul: both operands' strides fit TMA descriptors (`plan._tma_fits`)
    a_k_major: bool = True  # matmul: A contiguous along K (`plan._k_major`)
    b_k_major: bool = True  # matmul: B contiguous along K
    sms: int = 132  # the GPU's SM count (the request's GpuFacts; an H100/H200 by default)
    cuda: bool = False  # pointwise: the group has a CUDA C++ rendering (`emit_cuda.analyse`)
    logs: bool = False  # reduction, pointwise: a member takes a log (``fast_math`` applies)


def pow2(n: int) -> int:
    return 1 << max(0, (max(1, n) - 1).bit_length())


def clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def tile_numel(p: Params, f: Facts) -> int:
    """Elements of the largest block a group's kernel holds: at most MAX_NUMEL on a GPU."""
    if f.template == "matmul":
        return max(p["BM"] * p["BN"], p["BM"] * p["BK"], p["BK"] * p["BN"])
    if f.template == "pointwise":
        return p["BI"] * p["BJ"] if p.get("tile2d") else p["BLOCK"]
    c = pow2(f.cols) if p["mode"] == "single" else p["BLOCK_C"]
    return p["ROWS"] * max(c, p.get("split", 1))  # phase 1 of a split holds ROWS x SPLIT


def fits(p: Params | None, f: Facts) -> Params | None:
    """``p`` when its blocks fit Triton's tensor size limit, else None (the move is masked)."""
    return p if p is not None and tile_numel(p, f) <= MAX_NUMEL else None


def initial_pointwise(f: Facts) -> Params:
    """A cheap size/occupancy heuristic (not the naive corner of the space)."""
    block = clamp(pow2(f.numel // (132 * 8)), 256, 4096)
    warps = 4 if f.transposed else clamp(block // 256, 1, 8)
    return {"BLOCK": block, "num_warps": warps, "even": False,
            "evict": False, "persistent": 0, "tile2d": f.transposed, "BI": 64, "BJ": 64,
            "order": 0, "num_stages": 1}  # fmt: skip


def initial_reduction(f: Facts) -> Params:
    """Whole rows in registers when they fit, else a chunked loop (split when rows are few);
    fewer rows per program while a block would exceed Triton's tensor size limit."""
    p = _initial_reduction(f)
    while tile_numel(p, f) > MAX_NUMEL and p["ROWS"] > 1:
        p["ROWS"] //= 2
    return p


TINY_ROW = 8  # a reduced row of at most this many elements is tiny


def row_cap(c: int) -> int:
    """Most rows a program takes in an innermost reduction of rows ``c`` long (pow2)."""
    return 256 if c <= TINY_ROW else 64


def _initial_reduction(f: Facts) -> Params:
    c = pow2(f.cols)
    if not f.innermost and f.rows >= 256:  # rows run along the contiguous axis: tall tiles
        # short columns whole in registers, ~4096 elements a program (x read once; an H200,
        # 44's max pool, sigmoid and sum over 64 channels: 64 rows 0.250 ms, 128 rows
        # 0.270, 256 rows 0.278), else a loop over 32-column chunks (an H200, [64, 512,
        # 1024] reduced over 512: 16-column chunks 0.072 ms, 32-column 0.045 for sum, amax
        # and argmax alike; eager 0.045-0.056)
        whole = c <= 128
        rows = clamp(4096 // c, 64, 128) if whole else 128
        return {"mode": "single" if whole else "loop", "ROWS": rows, "BLOCK_C": c if whole else 32,
                "num_warps": clamp(128 * c // 1024, 4, 16) if whole else 4,
                "num_stages": 1 if whole else 2, "evict": False, "persistent": 0, "split": 1,
                "even": False, "online": False}  # fmt: skip
    # a row a chunked loop would read twice is held whole up to 32K elements (16 warps, 64
    # a thread): an H200, 41_groupnorm's 2048 groups of 32768 fp32: one read 0.160 ms (79 %
    # of the floor; 8 warps 0.175) against 0.228 for the Welford loop and its second pass
    if c * f.itemsize <= 65536 or (f.rereads and c <= WHOLE_REREAD):
        # rows of a few elements: 256 of them to one warp (an H200, 44_maxpool_sigmoid_sum's
        # 2 x 2 windows when they were reduced as rows: 0.412 ms against 0.732 for 64 rows;
        # small pooling windows are unrolled into pointwise loads since, `decompose`)
        tiny = c <= TINY_ROW
        rows = clamp(4096 // c, 1, row_cap(c))
        while rows > 1 and f.rows // rows < 264:
            rows //= 2
        warps = 1 if tiny else clamp(rows * c // 512, 1, 16)
        return {"mode": "single", "ROWS": rows, "BLOCK_C": c, "num_warps": warps,
                "num_stages": 1, "evict": False, "persistent": 0, "split": 1, "even": False,
            "online": False}  # fmt: skip
    # few long rows: split them until ~8 programs an SM stream (an H200, a 134M-element
    # KL divergence: 1024 splits 0.345 ms, 256 splits 0.445; Frobenius 0.112 against 0.120)
    split = 1
    if f.splittable and f.rows < 264:
        while (split < SPLITS[-1] and f.rows * split * 4 <= 8 * f.sms
               and f.cols // (split * 4) >= 8192):
            split *= 4
    # a chunked variance runs Welford's one pass from the start (an H200, 41_groupnorm's
    # 2048 x 32768 groups: 0.244 ms against 0.271 for the two-pass loop); an online sum of
    # exp takes 4096-column chunks (an H200, logsumexp / cross-entropy over 4096 x 32000
    # fp32: 0.130 / 0.135 ms against 0.134 / 0.140 for 2048 columns, both with 8 warps)
    block = 4096 if f.online and split == 1 else 2048
    return {"mode": "loop", "ROWS": 1, "BLOCK_C": block, "num_warps": 8, "num_stages": 2,
            "evict": False, "persistent": 0, "split": split, "even": False,
            "online": f.online or (f.welford and split == 1)}  # fmt: skip


def size_pointwise(f: Facts) -> int:
    """Distinct kernels in a pointwise group's space."""
    tiles = 4 * 4 * len(WARPS) * 2 * 2 * 2 * len(PERSISTENT) if f.transposed else 0
    cuda = len(THREADS) * 2 if f.cuda else 0
    triton = 9 * len(WARPS) * 2 * 2 * (1 + (len(PERSISTENT) - 1) * 4) + tiles
    return triton * (2 if f.logs else 1) + cuda


def size_reduction(f: Facts) -> int:
    single = 7 * len(WARPS) * 2 * 2 * (1 + (len(PERSISTENT) - 1) * 4)
    loop = 7 * 8 * len(WARPS) * 4 * 2 * 2 * len(PERSISTENT) * (2 if f.online or f.welford else 1)
    return (single + loop * (len(SPLITS) if f.splittable else 1)) * (2 if f.logs else 1)


def step(v: int, up: bool, lo: int, hi: int) -> int | None:
    new = v * 2 if up else v // 2
    return new if lo <= new <= hi and new != v else None


def set_params(p: Params, **kw: Any) -> Params | None:
    new = {**p, **kw}
    return None if new == p else new


def fast_math(p: Params, f: Facts) -> Params | None:
    """``fast_math``: the group's logs on the approximate log2 (`ops.fast_math`). An optional
    key, present only once on, so every kernel written before it existed keeps its source."""
    return set_params(p, fast_math=True) if f.logs else None


def common_move(name: str, p: Params, looped: bool) -> Params | None:
    """Moves every template shares: cache policy, alignment hints, pipelining of a loop."""
    if name == "streaming_eviction":
        return set_params(p, evict=True)
    if name == "alignment_hints":
        return set_params(p, even=True)
    if name in ("stages_up", "stages_down") and looped:
        ns = p["num_stages"] + (1 if name.endswith("up") else -1)
        return set_params(p, num_stages=ns) if 1 <= ns <= 4 else None
    return None


def _persistent(p: Params) -> Params | None:
    i = PERSISTENT.index(p["persistent"])
    return set_params(p, persistent=PERSISTENT[i + 1]) if i + 1 < len(PERSISTENT) else None


def _tiled(name: str, p: Params) -> Params | None:
    bi, bj, w = p["BI"], p["BJ"], p["num_warps"]
    if name == "grouped_order":
        return set_params(p, order=1 - p["order"])
    if name == "wider_vectors":
        nj = step(bj, True, 16, 128)
        return None if nj is None else set_params(p, BJ=nj)
    if name == "persistent":
        return _persistent(p)
    if name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        ni, nj = step(bi, up, 16, 128), step(bj, up, 16, 128)
        return None if ni is None or nj is None or ni * nj < w * 32 else set_params(p, BI=ni, BJ=nj)
    if name == "tile_aspect":
        if bj >= 32 and bi < 128:
            return set_params(p, BI=bi * 2, BJ=bj // 2)
        return set_params(p, BI=bi // 2, BJ=bj * 2) if bi >= 32 and bj < 128 else None
    if name in ("warps_up", "warps_down"):
        nw = step(w, name.endswith("up"), 1, 16)
        return None if nw is None or nw * 32 > bi * bj else set_params(p, num_warps=nw)
    return common_move(name, p, looped=p["persistent"] > 0)


def _move_cuda(name: str, p: Params) -> Params | None:
    """Moves of a group rendered as CUDA C++: threads a block and streaming accesses; the
    Triton knobs mean nothing there."""
    if name in ("block_size_up", "block_size_down"):
        t = step(p["threads"], name.endswith("up"), THREADS[0], THREADS[-1])
        return None if t is None else set_params(p, threads=t)
    if name == "streaming_eviction":
        return set_params(p, streaming=True)
    return None


def _move_pointwise(name: str, p: Params, f: Facts) -> Params | None:
    if p.get("target") == "cuda":
        return _move_cuda(name, p)
    if name == "fast_math":
        return fast_math(p, f)
    if name == "cuda_vec4":
        return set_params(p, **CUDA_START) if f.cuda else None
    if f.transposed and name == "coalesced_tiles":
        return set_params(p, tile2d=True)
    if p.get("tile2d"):
        return _tiled(name, p)
    b, w = p["BLOCK"], p["num_warps"]
    if name in ("block_size_up", "block_size_down"):
        nb = step(b, name.endswith("up"), 64, 16384)
        return None if nb is None or nb < w * 32 else set_params(p, BLOCK=nb)
    if name in ("warps_up", "warps_down"):
        nw = step(w, name.endswith("up"), 1, 16)
        return None if nw is None or nw * 32 > b else set_params(p, num_warps=nw)
    if name == "wider_vectors":
        want = w * 32 * max(1, 32 // f.itemsize)  # 32 bytes per thread
        return set_params(p, BLOCK=clamp(want, b, 16384)) if want > b else None
    if name == "persistent":
        return _persistent(p)
    return common_move(name, p, looped=p["persistent"] > 0)


def _move_reduction(name: str, p: Params, f: Facts) -> Params | None:
    if name == "fast_math":
        return fast_math(p, f)
    single = p["mode"] == "single"
    c = pow2(f.cols)
    tile = p["ROWS"] * (c if single else p["BLOCK_C"])
    if name == "split_row":
        if not f.splittable or p.get("split", 1) >= SPLITS[-1] or f.rows >= 1024:
            return None
        nxt = SPLITS[SPLITS.index(p.get("split", 1)) + 1]
        if f.cols // nxt < 64:
            return None
        block = p["BLOCK_C"] if not single else clamp(c // (2 * nxt), 128, 2048)
        return set_params(p, mode="loop", split=nxt, BLOCK_C=block, persistent=0, num_stages=2)
    if name == "single_pass_online":
        if not (f.online or f.welford) or p.get("split", 1) > 1:
            return None
        if single:  # the row is read once already; online pays off for chunked rows
            return None
        return set_params(p, online=True)
    tall = not f.innermost and p["ROWS"] > 1  # tall tiles: the rows are the contiguous axis
    if name == "rows_per_program":
        cap = 4096 if tall else row_cap(c)
        if p["ROWS"] >= cap or tile * 2 * f.itemsize > 131072 or p["ROWS"] * 2 > pow2(f.rows):
            return None
        return set_params(p, ROWS=p["ROWS"] * 2)
    if name == "row_in_registers":
        if single or c * f.itemsize > 131072:
            return None
        if tall:  # keep rows along the contiguous axis (one row would read a strided column)
            rows = clamp(min(p["ROWS"], 8192 // c), 1, p["ROWS"])
            warps = clamp(rows * c // 1024, 4, 16)
            return set_params(p, mode="single", ROWS=rows, num_warps=warps, split=1)
        return set_params(p, mode="single", ROWS=1, num_warps=clamp(c // 1024, 4, 16), split=1)
    if name == "chunked_loop":
        return (
            set_params(p, mode="loop", BLOCK_C=clamp(c // 2, 128, 4096), num_stages=2)
            if single and c >= 256
            else None
        )
    if name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        if single:
            nr = step(p["ROWS"], up, 1, row_cap(c))
            return None if nr is None or nr * c * f.itemsize > 131072 else set_params(p, ROWS=nr)
        nb = step(p["BLOCK_C"], up, 4 if tall else 64, 16384)  # tall: a short strided chunk
        return None if nb is None or (up and nb >= 2 * c) else set_params(p, BLOCK_C=nb)
    if name in ("warps_up", "warps_down"):
        nw = step(p["num_warps"], name.endswith("up"), 1, 16)
        return None if nw is None or nw * 32 > tile else set_params(p, num_warps=nw)
    if name == "wider_vectors":
        vec = max(1, 16 // f.itemsize)  # elements in 16 contiguous bytes
        if tall:
            want = p["num_warps"] * 32 * vec
            return set_params(p, ROWS=want) if want > p["ROWS"] and want <= pow2(f.rows) else None
        if single:  # fewer warps, so each thread owns >= 16 contiguous bytes of the row
            want = clamp(pow2(tile * f.itemsize // (32 * 16)) // 2 or 1, 1, 16)
            return set_params(p, num_warps=want) if want < p["num_warps"] else None
        want = min(p["num_warps"] * 32 * vec, 16384, pow2(f.cols))
        return set_params(p, BLOCK_C=want) if want > p["BLOCK_C"] else None
    if name == "persistent":
        return None if p.get("split", 1) > 1 else _persistent(p)
    return common_move(name, p, looped=not single or p["persistent"] > 0)


def move_pointwise(name: str, p: Params, f: Facts) -> Params | None:
    new = _move_pointwise(name, p, f)
    return new if new is not None and new.get("target") == "cuda" else fits(new, f)


def move_reduction(name: str, p: Params, f: Facts) -> Params | None:
    new = _move_reduction(name, p, f)
    return new if new is not None and admissible(new, f) else None


def admissible(p: Params, f: Facts) -> bool:
    """Parameters this module's spaces admit: blocks within Triton's tensor limit and, for a
    reduction, no register spills (the matmul space also checks shared memory:
    `strategies.graph.space_matmul.gemm_fits`)."""
    return fits(p, f) is not None and (f.template != "reduction" or in_registers(p, f))


def in_registers(p: Params, f: Facts) -> bool:
    """A reduction block of at most ``MAX_PER_THREAD`` elements a thread: larger ones spill
    (an H200 measured a 128 x 512 fp32 block with 4 warps 15x slower than 128 x 16, and
    its compile took 30 s)."""
    return tile_numel(p, f) <= MAX_PER_THREAD * 32 * p["num_warps"]
