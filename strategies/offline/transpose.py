"""Offline generator for the ``transpose`` task kind: ``y = x.t().contiguous()``.

The default kernel reads one row segment per program (coalesced) and writes it
down a column of ``y`` (stride ``R``: one 32-byte sector per element).
``tiling/block_2d_k_loop`` moves to 2-D tiles, whose store the compiler can
coalesce through shared memory; ``memory_layout/coalesced_tiles`` transposes the
tile explicitly with ``tl.trans`` so both the load and the store walk rows.

Parameters (the module header carries them):
    tiled, BLOCK_R, BLOCK_C   2-D tiles of BLOCK_R x BLOCK_C input elements
    trans                     ``tl.trans`` the tile and store it row-major
    BLOCK                     elements per program of the 1-D (untiled) kernel
    GROUP                     tile-row groups walked column-strip first (1 = row-major order)
    num_warps, even, evict, persistent   as for the elementwise kinds
"""

from __future__ import annotations

from profiling.tasks import Task
from strategies.offline._dense import (
    IMPORTS,
    NUM_SMS_HELPER,
    changed,
    elem_bytes,
    indent,
    load,
    pow2_step,
    store,
    task_dtype,
    warps_step,
    wider_block,
)
from strategies.offline.base import Generator, Params, register, strategy_name

MIN_TILE, MAX_TILE, MAX_AREA = 8, 256, 128 * 128
MIN_BLOCK, MAX_BLOCK = 64, 8192


def defaults(task: Task) -> Params:
    del task
    return {
        "tiled": False,
        "BLOCK": 128,
        "BLOCK_R": 32,
        "BLOCK_C": 32,
        "trans": False,
        "GROUP": 1,
        "num_warps": 4,
        "even": False,
        "evict": False,
        "persistent": False,
    }


def _elements(p: Params) -> int:
    return p["BLOCK_R"] * p["BLOCK_C"] if p["tiled"] else p["BLOCK"]


def _tile(p: Params, br: int, bc: int) -> Params | None:
    ok = MIN_TILE <= br <= MAX_TILE and MIN_TILE <= bc <= MAX_TILE and br * bc <= MAX_AREA
    return changed(p, BLOCK_R=br, BLOCK_C=bc) if ok else None


def apply(strategy_id: str, params: Params, task: Task) -> Params | None:
    name = strategy_name(strategy_id)
    p = dict(params)
    tiled, br, bc = p["tiled"], p["BLOCK_R"], p["BLOCK_C"]
    if name in ("block_size_up", "block_size_down"):
        up = name.endswith("up")
        if tiled:
            return _tile(p, br * 2, bc * 2) if up else _tile(p, br // 2, bc // 2)
        new = pow2_step(p["BLOCK"], up, MIN_BLOCK, MAX_BLOCK)
        return None if new is None else changed(p, BLOCK=new)
    if name == "block_2d_k_loop":
        return None if tiled else changed(p, tiled=True)
    if name == "coalesced_tiles":
        if not tiled:
            return changed(p, tiled=True, trans=True, BLOCK_R=64, BLOCK_C=64)
        return changed(p, trans=True)
    if name == "tile_aspect":
        if not tiled:
            return None
        if br == bc:  # square -> wide: longer contiguous reads of x
            return _tile(p, br // 2, bc * 2)
        return _tile(p, bc, br) if bc > br else None  # wide -> tall
    if name == "grouped_order":
        return changed(p, GROUP=8) if tiled else None
    if name in ("warps_up", "warps_down"):
        up = name.endswith("up")
        new = warps_step(p["num_warps"], up, hi=16)
        if new is None or (up and new * 32 > _elements(p)):
            return None
        return changed(p, num_warps=new)
    if name == "wider_vectors" and not tiled:
        new = wider_block(p["BLOCK"], p["num_warps"], elem_bytes(task_dtype(task)), MAX_BLOCK)
        return None if new is None else changed(p, BLOCK=new)
    if name == "alignment_hints":
        return changed(p, even=True)
    if name == "streaming_eviction":
        return changed(p, evict=True)
    if name == "persistent":
        return changed(p, persistent=True)
    return None


def _rows_kernel(p: Params) -> str:
    """1-D: one program per (row, column block); coalesced read, strided write."""
    ev = p["evict"]

    def io(mask: str | None) -> str:
        return (
            f"v = {load('x_ptr + row * stride_xr + cols * stride_xc', mask, ev, None)}\n"
            + store("y_ptr + cols * stride_y0 + row", "v", mask, ev)
        )

    body = "row = tile // num_c\ncols = (tile % num_c) * BLOCK + tl.arange(0, BLOCK)\n"
    if p["even"]:
        body += "cols = tl.max_contiguous(tl.multiple_of(cols, BLOCK), BLOCK)\n"
        body += "if (tile % num_c) * BLOCK + BLOCK <= C:\n" + indent(io(None), 4) + "\n"
        body += "else:\n" + indent(io("cols < C"), 4)
    else:
        body += io("cols < C")
    return _wrap(
        "_transpose_rows_kernel",
        "BLOCK: tl.constexpr",
        "num_c = tl.cdiv(C, BLOCK)\nnum_tiles = R * num_c\n",
        body,
        p,
    )


def _tiles_kernel(p: Params) -> str:
    ev = p["evict"]
    if p["GROUP"] > 1:  # walk GROUP tile-rows down one column strip before moving right
        order = (
            "width = GROUP * num_c\n"
            "first_r = (tile // width) * GROUP\n"
            "group_rows = min(num_r - first_r, GROUP)\n"
            "pid_r = first_r + (tile % width) % group_rows\n"
            "pid_c = (tile % width) // group_rows\n"
        )
    else:
        order = "pid_r = tile // num_c\npid_c = tile % num_c\n"
    body = order + (
        "rows = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)\n"
        "cols = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)\n"
    )
    src = "x_ptr + rows[:, None] * stride_xr + cols[None, :] * stride_xc"
    if p["trans"]:  # transpose in registers/shared memory; store walks rows of y
        dst, val = "y_ptr + cols[:, None] * stride_y0 + rows[None, :]", "tl.trans(tile_v)"
        in_mask = "(rows[:, None] < R) & (cols[None, :] < C)"
        out_mask = "(cols[:, None] < C) & (rows[None, :] < R)"
    else:  # store through transposed pointers; the compiler picks the layouts
        dst, val = "y_ptr + cols[None, :] * stride_y0 + rows[:, None]", "tile_v"
        in_mask = out_mask = "(rows[:, None] < R) & (cols[None, :] < C)"

    def io(masked: bool) -> str:
        m_in, m_out = (in_mask, out_mask) if masked else (None, None)
        return f"tile_v = {load(src, m_in, ev, None)}\n" + store(dst, val, m_out, ev)

    if p["even"]:
        body += "rows = tl.max_contiguous(tl.multiple_of(rows, BLOCK_R), BLOCK_R)\n"
        body += "cols = tl.max_contiguous(tl.multiple_of(cols, BLOCK_C), BLOCK_C)\n"
        body += "if (pid_r * BLOCK_R + BLOCK_R <= R) & (pid_c * BLOCK_C + BLOCK_C <= C):\n"
        body += indent(io(False), 4) + "\nelse:\n" + indent(io(True), 4)
    else:
        body += io(True)
    consts = "BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, GROUP: tl.constexpr"
    setup = "num_r = tl.cdiv(R, BLOCK_R)\nnum_c = tl.cdiv(C, BLOCK_C)\nnum_tiles = num_r * num_c\n"
    return _wrap("_transpose_tiles_kernel", consts, setup, body, p)


def _wrap(name: str, consts: str, setup: str, body: str, p: Params) -> str:
    if p["persistent"]:
        loop = "for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):\n"
        code = setup + loop + indent(body, 4)
    else:
        code = setup + "tile = tl.program_id(0)\n" + body
    return (
        "@triton.jit\n"
        f"def {name}(x_ptr, y_ptr, R, C, stride_xr, stride_xc, stride_y0, {consts}):\n"
        + indent(code.rstrip(), 4)
    )


def render(p: Params) -> str:
    warps = p["num_warps"]
    if p["tiled"]:
        kernel, name = _tiles_kernel(p), "_transpose_tiles_kernel"
        tiles = f"triton.cdiv(R, {p['BLOCK_R']}) * triton.cdiv(C, {p['BLOCK_C']})"
        consts = f"BLOCK_R={p['BLOCK_R']}, BLOCK_C={p['BLOCK_C']}, GROUP={p['GROUP']}"
        desc = f"{p['BLOCK_R']}x{p['BLOCK_C']} tiles" + (", tl.trans" if p["trans"] else "")
    else:
        kernel, name = _rows_kernel(p), "_transpose_rows_kernel"
        tiles = f"R * triton.cdiv(C, {p['BLOCK']})"
        consts = f"BLOCK={p['BLOCK']}"
        desc = f"row segments of {p['BLOCK']}, strided writes"
    grid = f"min({tiles}, _num_sms(x.device) * {max(1, 64 // warps)})" if p["persistent"] else tiles
    return f'''"""transpose: y = x.t().contiguous(); Triton, {desc}, num_warps={warps}."""

{IMPORTS}{NUM_SMS_HELPER if p["persistent"] else ""}

{kernel}


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        R, C = x.shape
        y = torch.empty((C, R), dtype=x.dtype, device=x.device)
        grid = ({grid},)
        {name}[grid](
            x, y, R, C, x.stride(0), x.stride(1), y.stride(0), {consts}, num_warps={warps}
        )
        return y
'''


register(Generator(kind="transpose", defaults=defaults, apply=apply, render=render))
