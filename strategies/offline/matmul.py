"""Offline generators for ``matmul`` (C = A @ B) and ``matmul_bias_gelu`` (gelu(x @ W^T + b)).

The default kernel is the textbook one: 32x32x32 tiles in row-major program
order, full masks in the K loop, Triton's default launch settings; for
``matmul_bias_gelu`` the bias and the GELU run in a second kernel over the
stored product. Strategies grow and shape the tiles, swizzle the program
order for L2 reuse, split K with fp32 atomics, loop persistently, tune warps
and pipeline stages, replace the masked loads by TMA tile copies
(``alignment_hints``; the K-major W of ``matmul_bias_gelu`` needs them to
approach cuBLAS), and fuse the bias+GELU into the epilogue.
Four steps from the default (block_2d_k_loop, grouped_order, warps_up,
tile_aspect) reach the well-known Hopper bf16 configuration 128x256x64,
GROUP_M=8, 8 warps, 3 stages; with alignment_hints (TMA) it matched or beat
torch eager (cuBLAS) on an H200 for both kinds (and fuse_epilogue for the
second).

Parameters (the module header carries them):
    BLOCK_M, BLOCK_N, BLOCK_K   tile of C per program and K step
    GROUP_M     M-tiles per group of the swizzled program order (1 = row-major)
    SPLIT_K     programs sharing one tile's K range (fp32 atomics + cast pass)
    num_warps, num_stages, persistent
    evict       stores of C stream past L2 (``evict_first``)
    tma         mask-free operand loads through tensor descriptors (TMA) when the operands
                are 16-byte aligned, the masked pointer kernel otherwise
    fused       (matmul_bias_gelu) bias + GELU in the matmul epilogue
"""

from __future__ import annotations

from profiling.tasks import Task
from strategies.offline import matmul_kernels
from strategies.offline._dense import (
    changed,
    elem_bytes,
    task_dtype,
    warps_step,
)
from strategies.offline.base import Generator, Params, register, strategy_name

MIN_TILE, MAX_TILE = 16, 256
MAX_STAGES = 6
SMEM_BUDGET = 220 * 1024  # bytes of shared memory the K-loop buffers may take (H100: 227 KiB)


def defaults_matmul(task: Task) -> Params:
    del task
    return {
        "BLOCK_M": 32,
        "BLOCK_N": 32,
        "BLOCK_K": 32,
        "GROUP_M": 1,
        "SPLIT_K": 1,
        "num_warps": 4,
        "num_stages": 3,
        "persistent": False,
        "evict": False,
        "tma": False,
    }


def defaults_bias_gelu(task: Task) -> Params:
    return {**defaults_matmul(task), "fused": False}


def smem_bytes(p: Params, elem: int) -> int:
    """Shared memory the pipelined K loop needs: one A and one B tile per stage."""
    tile = (p["BLOCK_M"] + p["BLOCK_N"]) * p["BLOCK_K"] * elem
    return tile * max(p["num_stages"], 1)


def _fits(p: Params | None, task: Task) -> Params | None:
    if p is None:
        return None
    ok = all(MIN_TILE <= p[k] <= MAX_TILE for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K"))
    return p if ok and smem_bytes(p, elem_bytes(task_dtype(task))) <= SMEM_BUDGET else None


def apply(strategy_id: str, params: Params, task: Task) -> Params | None:
    name = strategy_name(strategy_id)
    p = dict(params)
    bm, bn, bk = p["BLOCK_M"], p["BLOCK_N"], p["BLOCK_K"]
    fused, split = p.get("fused", False), p["SPLIT_K"]
    if name in ("block_size_up", "block_size_down"):
        f = (lambda v: v * 2) if name.endswith("up") else (lambda v: v // 2)
        return _fits(changed(p, BLOCK_M=f(bm), BLOCK_N=f(bn)), task)
    if name == "block_2d_k_loop":  # big output tiles, deep K step: the Hopper sweet spot
        return _fits(
            changed(p, BLOCK_M=max(bm, 128), BLOCK_N=max(bn, 128), BLOCK_K=max(bk, 64)), task
        )
    if name == "tile_aspect":
        if bm == bn:  # square -> wide (more reuse of each A tile)
            wide = _fits(changed(p, BLOCK_N=bn * 2), task)
            return wide or _fits(changed(p, BLOCK_M=bm // 2, BLOCK_N=bn * 2), task)
        return _fits(changed(p, BLOCK_M=bn, BLOCK_N=bm), task) if bn > bm else None
    if name == "grouped_order":
        return changed(p, GROUP_M=8) if p["GROUP_M"] == 1 else None
    if name == "split_k":
        if p["persistent"] or fused:
            return None
        new = 4 if split == 1 else split * 2
        return changed(p, SPLIT_K=new) if new <= 16 else None
    if name in ("stages_up", "stages_down"):
        new = p["num_stages"] + (1 if name.endswith("up") else -1)
        return _fits(changed(p, num_stages=new), task) if 1 <= new <= MAX_STAGES else None
    if name in ("warps_up", "warps_down"):
        up = name.endswith("up")
        new = warps_step(p["num_warps"], up, hi=16)
        if new is None or (up and bm * bn < new * 256):
            return None
        return changed(p, num_warps=new)
    if name == "persistent":
        return None if split > 1 else changed(p, persistent=True)
    if name == "alignment_hints":
        # mask-free TMA tile loads where operands are 16-byte aligned (checked at launch;
        # the masked pointer kernel stays for the rest)
        return changed(p, tma=True)
    if name == "streaming_eviction":
        return changed(p, evict=True)
    if name == "fuse_epilogue" and "fused" in p:
        return None if split > 1 else changed(p, fused=True)
    return None


def _check_pow2(p: Params) -> None:
    for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K"):
        v = p[k]
        if v < MIN_TILE or v & (v - 1):
            raise ValueError(f"{k}={v}: tiles must be powers of two >= {MIN_TILE}")


def render_matmul(p: Params) -> str:
    _check_pow2(p)
    return matmul_kernels.render_module(p, bias_gelu=False)


def render_bias_gelu(p: Params) -> str:
    _check_pow2(p)
    return matmul_kernels.render_module(p, bias_gelu=True)


register(Generator(kind="matmul", defaults=defaults_matmul, apply=apply, render=render_matmul))
register(
    Generator(
        kind="matmul_bias_gelu", defaults=defaults_bias_gelu, apply=apply, render=render_bias_gelu
    )
)
