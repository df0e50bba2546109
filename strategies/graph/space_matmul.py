"""The matmul template's parameter space: heuristic start, moves, size.

The Triton GEMM (tiles ``BM x BN x BK``, grouped order, warps, stages, persistent or
split-K, TF32 where opted in, fp32 as three TF32 products: ``tf32x3``, operands copied
K-major first: ``kmajor``) and the library point (``library=1``: the product from
PyTorch, one generated kernel for the epilogue). ``tma=1`` (`alignment_hints`, with
``even``) reads the operand tiles through TMA tensor descriptors
(`strategies.graph.emit_matmul_tma`; the pointer kernel is the launch-time fallback).
The facts and the move helpers shared with the other templates are
`strategies.graph.space`'s.
"""

from __future__ import annotations

from strategies.graph.space import (
    WARPS,
    Facts,
    Params,
    clamp,
    common_move,
    fits,
    pow2,
    set_params,
    step,
)

SPLIT_KS = (1, 2, 4, 8, 16)  # K ranges per output tile (partials summed in fp32)
TILES = (16, 32, 64, 128, 256)  # BM and BN


def initial_matmul(f: Facts) -> Params:
    """The Triton GEMM start; the library point (cuBLAS core, generated epilogue) is one
    move away (``fuse_epilogue``). The usual Triton GEMM tiles for the dtype; smaller BM
    for few rows, BN down to 16 for few columns (matrix-vector); split-K when the output
    tiles fill less than one wave of SMs and K is long. A large bf16/fp16 GEMM starts on the Hopper tile 128 x 256 x 64 (8
    warps, 3 stages, GROUP_M 8: Triton's first tutorial config, the retired per-kind
    kernel's best at 727-755 TFLOP/s on an H200 with TMA) where it fits and its tiles
    fill every SM at least once.

    fp32 operands start on tensor cores: TF32 products where opted in, else three TF32
    products (``tf32x3``: fp32-level error; IEEE FMA products ran at about half of cuBLAS
    SGEMM, 3xTF32 at 1.6-1.7x it on an H200), with an operand that is not contiguous along
    K copied K-major first where the copy pays (``kmajor``, `_copy_pays`: 32-bit
    tensor-core products read K-major tiles; 4096^3 with B row-major ran 1.55 ms so
    against 3.70 without), on 128 x 128 x 64 tiles with 8 warps where those fill every SM
    (the fastest of an H200 grid over 34_matmul and 39_linear_layernorm_relu)."""
    small = f.rows <= 64
    if f.itemsize <= 2:
        bm, bn, bk, warps = (64 if small else 128), 128, 64, 8
    else:
        bm, bn, bk, warps = (32 if small else 64), 64, 32, 4
    bn = clamp(pow2(f.cols), 16, bn)
    p = {"BM": bm, "BN": bn, "BK": bk, "GROUP_M": 8, "num_warps": warps, "num_stages": 3,
         "persistent": 0, "even": False, "evict": False, "tf32": False, "split_k": 1}  # fmt: skip
    if f.fp32_dot:
        p = _tensor_cores(p, f)
    wide = {**p, "BN": 256}
    big = f.itemsize <= 2 and bm == 128 and f.cols >= 256
    if big and gemm_fits(wide, f) and matmul_tiles(wide, f) >= f.sms:
        return wide
    tiles = matmul_tiles(p, f)
    if tiles < f.sms:
        best = 1
        for s in SPLIT_KS:
            if tiles * s <= 2 * f.sms and _split_ok(p, f, s, min_steps=4):
                best = s
        p["split_k"] = best
    return p


# ``library`` (matmul): 1 runs the group's GEMM core as a PyTorch call (cuBLAS) into a
# temporary and one generated kernel reads it for the whole epilogue; ``tma``: 1 loads the
# operand tiles through TMA descriptors; ``tf32x3``: 1 runs an fp32 dot as three TF32
# tensor-core products (fp32-level error, `tf32x3_allowed`); ``kmajor``: 1 copies an
# operand that is not contiguous along K to K-major storage first (`kmajor_allowed`). Each
# key is present only when on (absent: off), so every kernel written before it existed
# keeps its source.
OPTIONAL = ("library", "tma", "tf32x3", "kmajor")
# the optional keys of the Triton GEMM only (a library point drops them)
GEMM_OPTIONAL = ("tma", "tf32x3", "kmajor")
# GEMM-only parameters: the library point's source does not depend on them (the epilogue
# kernel tiles by BM x BN with num_warps, streams with evict, walks tiles row-major).
GEMM_ONLY = ("BK", "GROUP_M", "num_stages", "persistent", "even", "tf32", "split_k")


def _tensor_cores(p: Params, f: Facts) -> Params:
    """An fp32 start on tensor cores (`initial_matmul`)."""
    p = {**p, "tf32": True} if f.tf32 else {**p, "tf32x3": 1}
    if _copy_pays(f):
        p["kmajor"] = 1
    big = {**p, "BM": 128, "BN": 128, "BK": 64, "num_warps": 8}
    if f.rows > 64 and f.cols >= 128 and gemm_fits(big, f) and matmul_tiles(big, f) >= f.sms:
        return big
    return p


def library_point(p: Params, f: Facts) -> Params:
    """``p`` as a library point: the GEMM-only parameters reset to the Triton GEMM start, so
    each library kernel has one parameter set (one source), and leaving it goes back there."""
    start = initial_matmul(f)
    kept = {k: v for k, v in p.items() if k not in GEMM_OPTIONAL}
    return {**kept, **{k: start[k] for k in GEMM_ONLY}, "library": 1}


def _batch(f: Facts) -> int:
    return max(1, f.numel // max(1, f.rows * f.cols))


def matmul_tiles(p: Params, f: Facts) -> int:
    """Output tiles (programs without split-K) of a matmul group."""
    return _batch(f) * -(-f.rows // p["BM"]) * -(-f.cols // p["BN"])


def _split_ok(p: Params, f: Facts, split: int, min_steps: int) -> bool:
    """Each split walks at least ``min_steps`` BK steps; the fp32 workspace of partial tiles
    stays under the operands' bytes and int32 offsets."""
    steps = -(-f.depth // p["BK"])
    operands = _batch(f) * (f.rows + f.cols) * f.depth * f.itemsize
    ws = split * f.numel
    return split == 1 or (steps >= split * min_steps and ws * 4 <= operands and ws < 2**31)


def tf32_allowed(f: Facts) -> bool:
    """TF32 tensor-core products: only for fp32 operands, and only when opted in."""
    return f.fp32_dot and f.tf32


def tf32x3_allowed(f: Facts) -> bool:
    """fp32 products as three TF32 products (fp32-level error): fp32 operands that are not
    opted into TF32 (where they are, one TF32 product is the faster move)."""
    return f.fp32_dot and not f.tf32


def kmajor_allowed(f: Facts) -> bool:
    """A K-major copy of an operand: fp32 operands (32-bit tensor-core products, TF32 and
    3xTF32, read K-major shared-memory tiles; Hopper reads 16-bit tiles either way) of which
    one is not contiguous along K."""
    return f.fp32_dot and not (f.a_k_major and f.b_k_major)


# rows (columns) of output from which a K-major copy of B (A) starts on: the copy is one
# pass over the operand, the product reads it once per BM rows (BN columns) of output;
# 4096^3 gained 2.4x from the copy, 256 x 256 x 131072 (B: 134 MB) lost to it on an H200
KMAJOR_FROM = 512


def _copy_pays(f: Facts) -> bool:
    """The start copies an operand K-major where the product is wide enough along the other
    operand's side to amortise the copy."""
    return kmajor_allowed(f) and (
        (not f.b_k_major and f.rows >= KMAJOR_FROM) or (not f.a_k_major and f.cols >= KMAJOR_FROM)
    )


def size_matmul(f: Facts) -> int:
    """Triton GEMM kernels, plus the library points of a group with an epilogue: one per
    (BM, BN, num_warps) whose epilogue tile fits (`gemm_fits`), times ``evict``."""
    fp32 = 2 if tf32_allowed(f) or tf32x3_allowed(f) else 1  # IEEE or tensor-core products
    fp32 *= 2 if kmajor_allowed(f) else 1  # operands as they are or copied K-major
    aligned = 3 if f.tma else 2  # masked loads, even K steps, TMA descriptors (+ even K)
    gemm = 5 * 5 * 4 * 4 * len(WARPS) * 5 * aligned * 2 * (2 + len(SPLIT_KS) - 1) * fp32
    if not f.epilogue:
        return gemm
    start = initial_matmul(f)
    library = sum(gemm_fits({**start, "BM": m, "BN": n, "num_warps": w}, f)
                  for m in TILES for n in TILES for w in WARPS)  # fmt: skip
    return gemm + 2 * library


def gemm_fits(p: Params, f: Facts) -> bool:
    """The K loop's stages fit shared memory, the accumulator fits registers."""
    smem = p["num_stages"] * (p["BM"] + p["BN"]) * p["BK"] * f.itemsize
    regs = p["BM"] * p["BN"] // (p["num_warps"] * 32)
    return smem <= 196608 and regs <= 256 and p["BM"] * p["BN"] >= p["num_warps"] * 32


# the moves that change a library point's source (the others change GEMM-only parameters)
LIBRARY_MOVES = ("fuse_epilogue", "block_size_up", "block_size_down", "tile_aspect",
                 "warps_up", "warps_down", "streaming_eviction", "tf32x3",
                 "k_major_operands")  # fmt: skip


def _move_matmul(name: str, p: Params, f: Facts) -> Params | None:
    new: Params | None = None
    library = bool(p.get("library"))
    if library and name not in LIBRARY_MOVES:
        return None
    if name == "tf32x3":  # fp32 products on tensor cores (three TF32 products) <-> IEEE
        new = _toggle(p, f, "tf32x3") if tf32x3_allowed(f) else None
    elif name == "k_major_operands":
        new = _toggle(p, f, "kmajor") if kmajor_allowed(f) else None
    elif name == "fuse_epilogue":  # the Triton GEMM with the fused epilogue <-> the library core
        if not f.epilogue:
            return None
        new = _leave_library(p, f) if library else library_point(p, f)
    elif name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        bm, bn = step(p["BM"], up, 16, 256), step(p["BN"], up, 16, 256)
        new = None if bm is None or bn is None else set_params(p, BM=bm, BN=bn)
    elif name == "tile_aspect":
        new = _next_aspect(p, f)
    elif name == "block_2d_k_loop" and tf32_allowed(f) and not p["tf32"]:
        new = set_params(p, tf32=True, BK=max(p["BK"], 32))  # tensor cores on fp32 (opted in)
    elif name == "block_2d_k_loop":
        bk = step(p["BK"], True, 16, 128)
        new = None if bk is None else set_params(p, BK=bk)
    elif name == "grouped_order":
        order = (1, 4, 8, 16)
        i = order.index(p["GROUP_M"]) if p["GROUP_M"] in order else 0
        new = (
            set_params(p, GROUP_M=order[i + 1]) if i + 1 < len(order) else set_params(p, GROUP_M=1)
        )
    elif name in ("warps_up", "warps_down"):
        nw = step(p["num_warps"], name.endswith("up"), 1, 16)
        new = None if nw is None else set_params(p, num_warps=nw)
    elif name in ("stages_up", "stages_down"):
        ns = p["num_stages"] + (1 if name.endswith("up") else -1)
        new = set_params(p, num_stages=ns) if 1 <= ns <= 5 else None
    elif name == "persistent":
        new = set_params(p, persistent=1) if not p["persistent"] and p["split_k"] == 1 else None
    elif name == "split_k":
        new = _split_k(p, f)
    elif name == "wider_vectors":  # longer contiguous K runs per operand load
        bk = step(p["BK"], True, 16, 128)
        new = None if bk is None else set_params(p, BK=bk)
    elif name == "alignment_hints":  # mask-free K steps; TMA tiles where descriptors fit
        new = set_params(p, even=True, **({"tma": 1} if f.tma else {}))
    elif name == "streaming_eviction":
        new = common_move(name, p, looped=True)
    return new if new is not None and gemm_fits(new, f) else None


def _toggle(p: Params, f: Facts, key: str) -> Params:
    """An optional GEMM key on <-> off; from the library point, the Triton GEMM (its start
    tiles) with it on: one jump."""
    if p.get("library"):
        return {**_leave_library(p, f), key: 1}
    if p.get(key):
        return {k: v for k, v in p.items() if k != key}
    return {**p, key: 1}


def _leave_library(p: Params, f: Facts) -> Params:
    """The library point's Triton GEMM: its parameters with the start's optional GEMM keys
    (`initial_matmul`: the fp32 tensor-core products) back."""
    start = initial_matmul(f)
    gemm = {k: v for k, v in p.items() if k != "library"}
    return {**gemm, **{k: start[k] for k in GEMM_OPTIONAL if k in start}}


def _next_aspect(p: Params, f: Facts) -> Params | None:
    """The next tile shape of the same area that fits, taller first, wrapping round to the
    widest: applied again and again, the move visits every aspect (16 x 256 ... 256 x 16)."""
    area = p["BM"] * p["BN"]
    shapes = [(m, area // m) for m in TILES if TILES[0] <= area // m <= TILES[-1]]
    i = shapes.index((p["BM"], p["BN"])) if (p["BM"], p["BN"]) in shapes else -1
    for k in range(1, len(shapes)):
        bm, bn = shapes[(i + k) % len(shapes)]
        new = set_params(p, BM=bm, BN=bn)
        if new is not None and gemm_fits(new, f):
            return new
    return None


def _split_k(p: Params, f: Facts) -> Params | None:
    """The next split of K while the split grid stays under 8 waves and each split keeps two
    BK steps; past the last useful split, back to one program per tile."""
    cur = p["split_k"]
    nxt = SPLIT_KS[SPLIT_KS.index(cur) + 1] if cur in SPLIT_KS[:-1] else None
    if nxt and matmul_tiles(p, f) * nxt <= 8 * f.sms and _split_ok(p, f, nxt, min_steps=2):
        return set_params(p, split_k=nxt, persistent=0)
    return set_params(p, split_k=1) if cur > 1 else None


def move_matmul(name: str, p: Params, f: Facts) -> Params | None:
    return fits(_move_matmul(name, p, f), f)
