"""The templates' parameter spaces: heuristic start, catalog moves, size of the space.

A catalog strategy is a move in the space of one group: the realizer offers it to
the groups in order of their weight (bytes moved, or FLOPs for a matmul) and the
first group where it changes something takes it. Moves are pure functions of
(params, group facts) and return None when they would not apply (the tuner then
masks that arm for this parent). Some moves jump several steps (``wider_vectors``
sizes the block for 16-byte accesses at once; ``chunked_loop`` and
``row_in_registers`` switch the reduction mode and resize the chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Params = dict[str, Any]

WARPS = (1, 2, 4, 8, 16)
SPLITS = (1, 4, 16, 64, 256)
PERSISTENT = (0, 1, 2, 4, 8)
SPLIT_KS = (1, 2, 4, 8, 16)  # matmul: K ranges per output tile (partials summed in fp32)
MAX_NUMEL = 2**20  # Triton's largest block (TRITON_MAX_TENSOR_NUMEL); the interpreter skips it
MAX_PER_THREAD = 128  # reduction: block elements a thread holds (registers, not spills)


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
    fp32_dot: bool = False  # matmul: fp32 operands (IEEE products unless TF32 is opted in)
    tf32: bool = False  # the task (PRECISION) or the user (realizer.allow_tf32) accepts TF32
    epilogue: bool = False  # matmul: the group has pointwise work beyond the bare product
    sms: int = 132  # the GPU's SM count (the request's GpuFacts; an H100/H200 by default)


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


def _initial_reduction(f: Facts) -> Params:
    c = pow2(f.cols)
    if not f.innermost and f.rows >= 256:  # rows run along the contiguous axis: tall tiles
        return {"mode": "loop" if c > 32 else "single", "ROWS": 128, "BLOCK_C": min(c, 16),
                "num_warps": 4, "num_stages": 2, "evict": False, "persistent": 0, "split": 1,
                "even": False, "online": False}  # fmt: skip
    if c * f.itemsize <= 65536:
        rows = clamp(4096 // c, 1, 64)
        while rows > 1 and f.rows // rows < 264:
            rows //= 2
        warps = clamp(rows * c // 512, 1, 16)
        return {"mode": "single", "ROWS": rows, "BLOCK_C": c, "num_warps": warps,
                "num_stages": 1, "evict": False, "persistent": 0, "split": 1, "even": False,
            "online": False}  # fmt: skip
    split = 1
    if f.splittable and f.rows < 264:
        while split < 256 and f.rows * split * 4 < 528 and f.cols // (split * 4) >= 8192:
            split *= 4
    return {"mode": "loop", "ROWS": 1, "BLOCK_C": 2048, "num_warps": 8, "num_stages": 2,
            "evict": False, "persistent": 0, "split": split, "even": False, "online": f.online}  # fmt: skip


def initial_matmul(f: Facts) -> Params:
    """The Triton GEMM start (`gemm_start`), or the library core (``library=1``) where the
    Triton dot would run IEEE fp32 products (fp32 operands, TF32 not opted in: about half
    of cuBLAS SGEMM) and the group has an epilogue to fuse."""
    p = gemm_start(f)
    return library_point(p, f) if f.fp32_dot and not f.tf32 and f.epilogue else p


def gemm_start(f: Facts) -> Params:
    """The usual Triton GEMM tiles for the dtype; smaller BM for few rows, BN down to 16 for
    few columns (matrix-vector); split-K when the output tiles fill less than one wave of
    SMs and K is long."""
    small = f.rows <= 64
    if f.itemsize <= 2:
        bm, bn, bk, warps = (64 if small else 128), 128, 64, 8
    else:
        bm, bn, bk, warps = (32 if small else 64), 64, 32, 4
    bn = clamp(pow2(f.cols), 16, bn)
    p = {"BM": bm, "BN": bn, "BK": bk, "GROUP_M": 8, "num_warps": warps, "num_stages": 3,
         "persistent": 0, "even": False, "evict": False, "tf32": False, "split_k": 1}  # fmt: skip
    tiles = matmul_tiles(p, f)
    if tiles < f.sms:
        best = 1
        for s in SPLIT_KS:
            if tiles * s <= 2 * f.sms and _split_ok(p, f, s, min_steps=4):
                best = s
        p["split_k"] = best
    return p


# ``library`` (matmul): 1 runs the group's GEMM core as a PyTorch call (cuBLAS) into a
# temporary and one generated kernel reads it for the whole epilogue. The key is present
# only when on (absent: off), so every kernel written before it existed keeps its source.
OPTIONAL = ("library",)
# GEMM-only parameters: the library point's source does not depend on them (the epilogue
# kernel tiles by BM x BN with num_warps, streams with evict, walks tiles row-major).
GEMM_ONLY = ("BK", "GROUP_M", "num_stages", "persistent", "even", "tf32", "split_k")


def library_point(p: Params, f: Facts) -> Params:
    """``p`` as a library point: the GEMM-only parameters reset to the Triton GEMM start, so
    each library kernel has one parameter set (one source), and leaving it goes back there."""
    start = gemm_start(f)
    return {**p, **{k: start[k] for k in GEMM_ONLY}, "library": 1}


def matmul_tiles(p: Params, f: Facts) -> int:
    """Output tiles (programs without split-K) of a matmul group."""
    batch = max(1, f.numel // max(1, f.rows * f.cols))
    return batch * -(-f.rows // p["BM"]) * -(-f.cols // p["BN"])


def _split_ok(p: Params, f: Facts, split: int, min_steps: int) -> bool:
    """Each split walks at least ``min_steps`` BK steps; the fp32 workspace of partial tiles
    stays under the operands' bytes and int32 offsets."""
    steps = -(-f.depth // p["BK"])
    batch = max(1, f.numel // max(1, f.rows * f.cols))
    operands = batch * (f.rows + f.cols) * f.depth * f.itemsize
    ws = split * f.numel
    return split == 1 or (steps >= split * min_steps and ws * 4 <= operands and ws < 2**31)


def size_pointwise(f: Facts) -> int:
    """Distinct kernels in a pointwise group's space."""
    tiles = 4 * 4 * len(WARPS) * 2 * 2 * 2 * len(PERSISTENT) if f.transposed else 0
    return 9 * len(WARPS) * 2 * 2 * (1 + (len(PERSISTENT) - 1) * 4) + tiles


def size_reduction(f: Facts) -> int:
    single = 7 * len(WARPS) * 2 * 2 * (1 + (len(PERSISTENT) - 1) * 4)
    loop = 7 * 8 * len(WARPS) * 4 * 2 * 2 * len(PERSISTENT) * (2 if f.online or f.welford else 1)
    return single + loop * (len(SPLITS) if f.splittable else 1)


def tf32_allowed(f: Facts) -> bool:
    """TF32 tensor-core products: only for fp32 operands, and only when opted in."""
    return f.fp32_dot and f.tf32


def size_matmul(f: Facts) -> int:
    """Triton GEMM kernels, plus the library points of a group with an epilogue: one per
    (BM, BN, num_warps) whose epilogue tile fits (`_fits`), times ``evict``."""
    tf32 = 2 if tf32_allowed(f) else 1
    gemm = 5 * 5 * 4 * 4 * len(WARPS) * 5 * 2 * 2 * (2 + len(SPLIT_KS) - 1) * tf32
    if not f.epilogue:
        return gemm
    start, tiles = gemm_start(f), (16, 32, 64, 128, 256)
    library = sum(_fits({**start, "BM": m, "BN": n, "num_warps": w}, f)
                  for m in tiles for n in tiles for w in WARPS)  # fmt: skip
    return gemm + 2 * library


def _step(v: int, up: bool, lo: int, hi: int) -> int | None:
    new = v * 2 if up else v // 2
    return new if lo <= new <= hi and new != v else None


def _set(p: Params, **kw: Any) -> Params | None:
    new = {**p, **kw}
    return None if new == p else new


def _common(name: str, p: Params, looped: bool) -> Params | None:
    """Moves every template shares: cache policy, alignment hints, pipelining of a loop."""
    if name == "streaming_eviction":
        return _set(p, evict=True)
    if name == "alignment_hints":
        return _set(p, even=True)
    if name in ("stages_up", "stages_down") and looped:
        ns = p["num_stages"] + (1 if name.endswith("up") else -1)
        return _set(p, num_stages=ns) if 1 <= ns <= 4 else None
    return None


def _persistent(p: Params) -> Params | None:
    i = PERSISTENT.index(p["persistent"])
    return _set(p, persistent=PERSISTENT[i + 1]) if i + 1 < len(PERSISTENT) else None


def _tiled(name: str, p: Params) -> Params | None:
    bi, bj, w = p["BI"], p["BJ"], p["num_warps"]
    if name == "grouped_order":
        return _set(p, order=1 - p["order"])
    if name == "wider_vectors":
        nj = _step(bj, True, 16, 128)
        return None if nj is None else _set(p, BJ=nj)
    if name == "persistent":
        return _persistent(p)
    if name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        ni, nj = _step(bi, up, 16, 128), _step(bj, up, 16, 128)
        return None if ni is None or nj is None or ni * nj < w * 32 else _set(p, BI=ni, BJ=nj)
    if name == "tile_aspect":
        if bj >= 32 and bi < 128:
            return _set(p, BI=bi * 2, BJ=bj // 2)
        return _set(p, BI=bi // 2, BJ=bj * 2) if bi >= 32 and bj < 128 else None
    if name in ("warps_up", "warps_down"):
        nw = _step(w, name.endswith("up"), 1, 16)
        return None if nw is None or nw * 32 > bi * bj else _set(p, num_warps=nw)
    return _common(name, p, looped=p["persistent"] > 0)


def _move_pointwise(name: str, p: Params, f: Facts) -> Params | None:
    if f.transposed and name == "coalesced_tiles":
        return _set(p, tile2d=True)
    if p.get("tile2d"):
        return _tiled(name, p)
    b, w = p["BLOCK"], p["num_warps"]
    if name in ("block_size_up", "block_size_down"):
        nb = _step(b, name.endswith("up"), 64, 16384)
        return None if nb is None or nb < w * 32 else _set(p, BLOCK=nb)
    if name in ("warps_up", "warps_down"):
        nw = _step(w, name.endswith("up"), 1, 16)
        return None if nw is None or nw * 32 > b else _set(p, num_warps=nw)
    if name == "wider_vectors":
        want = w * 32 * max(1, 32 // f.itemsize)  # 32 bytes per thread
        return _set(p, BLOCK=clamp(want, b, 16384)) if want > b else None
    if name == "persistent":
        return _persistent(p)
    return _common(name, p, looped=p["persistent"] > 0)


def _move_reduction(name: str, p: Params, f: Facts) -> Params | None:
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
        return _set(p, mode="loop", split=nxt, BLOCK_C=block, persistent=0, num_stages=2)
    if name == "single_pass_online":
        if not (f.online or f.welford) or p.get("split", 1) > 1:
            return None
        if single:  # the row is read once already; online pays off for chunked rows
            return None
        return _set(p, online=True)
    tall = not f.innermost and p["ROWS"] > 1  # tall tiles: the rows are the contiguous axis
    if name == "rows_per_program":
        cap = 4096 if tall else 64
        if p["ROWS"] >= cap or tile * 2 * f.itemsize > 131072 or p["ROWS"] * 2 > pow2(f.rows):
            return None
        return _set(p, ROWS=p["ROWS"] * 2)
    if name == "row_in_registers":
        if single or c * f.itemsize > 131072:
            return None
        return _set(p, mode="single", ROWS=1, num_warps=clamp(c // 1024, 4, 16), split=1)
    if name == "chunked_loop":
        return (
            _set(p, mode="loop", BLOCK_C=clamp(c // 2, 128, 4096), num_stages=2)
            if single and c >= 256
            else None
        )
    if name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        if single:
            nr = _step(p["ROWS"], up, 1, 64)
            return None if nr is None or nr * c * f.itemsize > 131072 else _set(p, ROWS=nr)
        nb = _step(p["BLOCK_C"], up, 4 if tall else 64, 16384)  # tall: a short strided chunk
        return None if nb is None or (up and nb >= 2 * c) else _set(p, BLOCK_C=nb)
    if name in ("warps_up", "warps_down"):
        nw = _step(p["num_warps"], name.endswith("up"), 1, 16)
        return None if nw is None or nw * 32 > tile else _set(p, num_warps=nw)
    if name == "wider_vectors":
        vec = max(1, 16 // f.itemsize)  # elements in 16 contiguous bytes
        if tall:
            want = p["num_warps"] * 32 * vec
            return _set(p, ROWS=want) if want > p["ROWS"] and want <= pow2(f.rows) else None
        if single:  # fewer warps, so each thread owns >= 16 contiguous bytes of the row
            want = clamp(pow2(tile * f.itemsize // (32 * 16)) // 2 or 1, 1, 16)
            return _set(p, num_warps=want) if want < p["num_warps"] else None
        want = min(p["num_warps"] * 32 * vec, 16384, pow2(f.cols))
        return _set(p, BLOCK_C=want) if want > p["BLOCK_C"] else None
    if name == "persistent":
        return None if p.get("split", 1) > 1 else _persistent(p)
    return _common(name, p, looped=not single or p["persistent"] > 0)


def _fits(p: Params, f: Facts) -> bool:
    smem = p["num_stages"] * (p["BM"] + p["BN"]) * p["BK"] * f.itemsize
    regs = p["BM"] * p["BN"] // (p["num_warps"] * 32)
    return smem <= 196608 and regs <= 256 and p["BM"] * p["BN"] >= p["num_warps"] * 32


# the moves that change a library point's source (the others change GEMM-only parameters)
LIBRARY_MOVES = ("fuse_epilogue", "block_size_up", "block_size_down", "tile_aspect",
                 "warps_up", "warps_down", "streaming_eviction")  # fmt: skip


def _move_matmul(name: str, p: Params, f: Facts) -> Params | None:
    new: Params | None = None
    library = bool(p.get("library"))
    if library and name not in LIBRARY_MOVES:
        return None
    if name == "fuse_epilogue":  # the Triton GEMM with the fused epilogue <-> the library core
        if not f.epilogue:
            return None
        new = {k: v for k, v in p.items() if k != "library"} if library else library_point(p, f)
    elif name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        bm, bn = _step(p["BM"], up, 16, 256), _step(p["BN"], up, 16, 256)
        new = None if bm is None or bn is None else _set(p, BM=bm, BN=bn)
    elif name == "tile_aspect":
        new = _next_aspect(p, f)
    elif name == "block_2d_k_loop" and tf32_allowed(f) and not p["tf32"]:
        new = _set(p, tf32=True, BK=max(p["BK"], 32))  # tensor cores on fp32 (opted in)
    elif name == "block_2d_k_loop":
        bk = _step(p["BK"], True, 16, 128)
        new = None if bk is None else _set(p, BK=bk)
    elif name == "grouped_order":
        order = (1, 4, 8, 16)
        i = order.index(p["GROUP_M"]) if p["GROUP_M"] in order else 0
        new = _set(p, GROUP_M=order[i + 1]) if i + 1 < len(order) else _set(p, GROUP_M=1)
    elif name in ("warps_up", "warps_down"):
        nw = _step(p["num_warps"], name.endswith("up"), 1, 16)
        new = None if nw is None else _set(p, num_warps=nw)
    elif name in ("stages_up", "stages_down"):
        ns = p["num_stages"] + (1 if name.endswith("up") else -1)
        new = _set(p, num_stages=ns) if 1 <= ns <= 5 else None
    elif name == "persistent":
        new = _set(p, persistent=1) if not p["persistent"] and p["split_k"] == 1 else None
    elif name == "split_k":
        new = _split_k(p, f)
    elif name == "wider_vectors":  # longer contiguous K runs per operand load
        bk = _step(p["BK"], True, 16, 128)
        new = None if bk is None else _set(p, BK=bk)
    elif name in ("alignment_hints", "streaming_eviction"):
        new = _common(name, p, looped=True)
    return new if new is not None and _fits(new, f) else None


def _next_aspect(p: Params, f: Facts) -> Params | None:
    """The next tile shape of the same area that fits, taller first, wrapping round to the
    widest: applied again and again, the move visits every aspect (16 x 256 ... 256 x 16)."""
    area = p["BM"] * p["BN"]
    shapes = [(m, area // m) for m in (16, 32, 64, 128, 256) if 16 <= area // m <= 256]
    i = shapes.index((p["BM"], p["BN"])) if (p["BM"], p["BN"]) in shapes else -1
    for k in range(1, len(shapes)):
        bm, bn = shapes[(i + k) % len(shapes)]
        new = _set(p, BM=bm, BN=bn)
        if new is not None and _fits(new, f):
            return new
    return None


def _split_k(p: Params, f: Facts) -> Params | None:
    """The next split of K while the split grid stays under 8 waves and each split keeps two
    BK steps; past the last useful split, back to one program per tile."""
    cur = p["split_k"]
    nxt = SPLIT_KS[SPLIT_KS.index(cur) + 1] if cur in SPLIT_KS[:-1] else None
    if nxt and matmul_tiles(p, f) * nxt <= 8 * f.sms and _split_ok(p, f, nxt, min_steps=2):
        return _set(p, split_k=nxt, persistent=0)
    return _set(p, split_k=1) if cur > 1 else None


def move_pointwise(name: str, p: Params, f: Facts) -> Params | None:
    return fits(_move_pointwise(name, p, f), f)


def move_reduction(name: str, p: Params, f: Facts) -> Params | None:
    new = fits(_move_reduction(name, p, f), f)
    return new if new is None or in_registers(new, f) else None


def in_registers(p: Params, f: Facts) -> bool:
    """A reduction block of at most ``MAX_PER_THREAD`` elements a thread: larger ones spill
    (an H200 measured a 128 x 512 fp32 block with 4 warps 15x slower than 128 x 16, and
    its compile took 30 s)."""
    return tile_numel(p, f) <= MAX_PER_THREAD * 32 * p["num_warps"]


def move_matmul(name: str, p: Params, f: Facts) -> Params | None:
    return fits(_move_matmul(name, p, f), f)
