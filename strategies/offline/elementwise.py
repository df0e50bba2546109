"""Offline generators for the elementwise task kinds ``gelu`` and ``swiglu``.

The default kernel is a literal translation of the formula: one small-block
Triton kernel per step (``erf`` then the GELU combination; ``silu`` then the
multiply), so the intermediate makes a round trip through DRAM. Strategies fuse
the steps, grow the block and the per-thread vector, add an unmasked fast path,
stream with ``evict_first``, loop persistently, or switch to a CUDA C++ kernel
with ``float4`` accesses (``vectorization/cuda_vec4``, rendered by
`strategies.offline.cuda_elementwise`).

Parameters (the module header carries them):
    target      "triton" | "cuda"
    fused       one kernel for the whole formula (else two launches)
    BLOCK       elements per program and loop step
    num_warps   warps per program
    even        unmasked loads/stores for full blocks, contiguity hints
    evict       ``eviction_policy="evict_first"`` on every access (streaming)
    persistent  one program per SM slot, looping over blocks
    threads, streaming   the CUDA variant's block size and ``__ldcs/__stcs`` use
"""

from __future__ import annotations

from dataclasses import dataclass

from profiling.tasks import Task
from strategies.offline import cuda_elementwise
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

MIN_BLOCK, MAX_BLOCK = 64, 16384


@dataclass(frozen=True)
class Stage:
    """One kernel: loads ``inputs`` (as fp32 variables of the same names), stores ``expr``."""

    name: str
    inputs: tuple[str, ...]
    expr: str


@dataclass(frozen=True)
class Op:
    kind: str
    args: tuple[str, ...]  # forward() arguments, all of one shape
    fused: Stage
    first: Stage  # unfused: first -> tmp (named `tmp`), then second reads it
    second: Stage
    tmp: str
    doc: str


GELU = Op(
    kind="gelu",
    args=("x",),
    fused=Stage("_gelu_kernel", ("x",), "0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476))"),
    first=Stage("_erf_kernel", ("x",), "tl.erf(x * 0.7071067811865476)"),
    second=Stage("_gelu_combine_kernel", ("x", "t"), "0.5 * x * (1.0 + t)"),
    tmp="t",
    doc="y = 0.5 * x * (1 + erf(x / sqrt(2))), the exact GELU",
)
SWIGLU = Op(
    kind="swiglu",
    args=("gate", "up"),
    fused=Stage("_swiglu_kernel", ("gate", "up"), "gate * tl.sigmoid(gate) * up"),
    first=Stage("_silu_kernel", ("gate",), "gate * tl.sigmoid(gate)"),
    second=Stage("_mul_kernel", ("s", "up"), "s * up"),
    tmp="s",
    doc="y = silu(gate) * up",
)


def defaults(task: Task) -> Params:
    del task
    return {
        "target": "triton",
        "fused": False,
        "BLOCK": 128,
        "num_warps": 4,
        "even": False,
        "evict": False,
        "persistent": False,
        **cuda_elementwise.CUDA_PARAMS,
    }


def make_apply(op: Op):
    def apply(strategy_id: str, params: Params, task: Task) -> Params | None:
        name = strategy_name(strategy_id)
        p = dict(params)
        if p.get("target") == "cuda":
            return cuda_elementwise.apply(name, p)
        block, warps = p["BLOCK"], p["num_warps"]
        if name in ("block_size_up", "block_size_down"):
            new = pow2_step(block, name.endswith("up"), MIN_BLOCK, MAX_BLOCK)
            return None if new is None else changed(p, BLOCK=new)
        if name in ("warps_up", "warps_down"):
            up = name.endswith("up")
            new = warps_step(warps, up)
            if new is None or (up and new * 32 > block):
                return None
            return changed(p, num_warps=new)
        if name == "wider_vectors":
            new = wider_block(block, warps, elem_bytes(task_dtype(task)), MAX_BLOCK)
            return None if new is None else changed(p, BLOCK=new)
        if name == "alignment_hints":
            return changed(p, even=True)
        if name == "streaming_eviction":
            return changed(p, evict=True)
        if name == "fuse_elementwise" or (name == "fuse_epilogue" and op.kind == "swiglu"):
            return changed(p, fused=True)
        if name == "persistent":
            return changed(p, persistent=True)
        if name == "cuda_vec4":
            if task_dtype(task) != "float32":
                return None
            return changed(p, target="cuda")
        return None

    return apply


def make_render(op: Op):
    def render(params: Params) -> str:
        if params.get("target") == "cuda":
            return cuda_elementwise.render(op.kind, op.args, op.doc, params)
        return render_triton(op, params)

    return render


def _io(stage: Stage, mask: str | None, evict: bool) -> str:
    lines = [f"{v} = {load(f'{v}_ptr + offs', mask, evict)}.to(tl.float32)" for v in stage.inputs]
    lines.append(f"y = {stage.expr}")
    lines.append(store("out_ptr + offs", "y.to(out_ptr.dtype.element_ty)", mask, evict))
    return "\n".join(lines)


def _kernel(stage: Stage, p: Params) -> str:
    ptrs = ", ".join(f"{v}_ptr" for v in stage.inputs)
    evict = p["evict"]
    body = "offs = start + tl.arange(0, BLOCK)\n"
    if p["even"]:
        body += "offs = tl.max_contiguous(tl.multiple_of(offs, BLOCK), BLOCK)\n"
        body += "if start + BLOCK <= n:  # full block: no mask, 16-byte vectors\n"
        body += indent(_io(stage, None, evict), 4) + "\n"
        body += "else:\n"
        body += indent("mask = offs < n\n" + _io(stage, "mask", evict), 4) + "\n"
    else:
        body += "mask = offs < n\n" + _io(stage, "mask", evict) + "\n"
    if p["persistent"]:
        head = (
            "for blk in range(tl.program_id(0), tl.cdiv(n, BLOCK), tl.num_programs(0)):\n"
            "    start = blk * BLOCK\n"
        )
        code = head + indent(body, 4)
    else:
        code = "start = tl.program_id(0) * BLOCK\n" + body
    return (
        f"@triton.jit\n"
        f"def {stage.name}({ptrs}, out_ptr, n, BLOCK: tl.constexpr):\n" + indent(code, 4)
    ).rstrip()


def _launch(stage: Stage, out: str, p: Params) -> str:
    args = ", ".join(stage.inputs)
    return f"{stage.name}[grid]({args}, {out}, n, BLOCK={p['BLOCK']}, num_warps={p['num_warps']})"


def render_triton(op: Op, p: Params) -> str:
    first = op.args[0]
    block, warps = p["BLOCK"], p["num_warps"]
    if p["persistent"]:
        per_sm = max(1, 64 // warps)  # enough resident warps per SM to hide DRAM latency
        grid = f"(min(triton.cdiv(n, {block}), _num_sms({first}.device) * {per_sm}),)"
    else:
        grid = f"(triton.cdiv(n, {block}),)"
    fwd = [f"{a} = {a}.contiguous()" for a in op.args]
    fwd += [f"out = torch.empty_like({first})", f"n = {first}.numel()", f"grid = {grid}"]
    if p["fused"]:
        stages = [op.fused]
        fwd.append(_launch(op.fused, "out", p))
    else:
        stages = [op.first, op.second]
        fwd.append(f"{op.tmp} = torch.empty_like({first})")
        fwd.append(_launch(op.first, op.tmp, p))
        fwd.append(_launch(op.second, "out", p))
    fwd.append("return out")
    kernels = "\n\n\n".join(_kernel(s, p) for s in stages)
    desc = "one fused kernel" if p["fused"] else "two kernels (intermediate through DRAM)"
    return (
        f'"""{op.kind}: {op.doc}; Triton, {desc}, BLOCK={block}, num_warps={warps}."""\n\n'
        f"{IMPORTS}{NUM_SMS_HELPER if p['persistent'] else ''}\n\n{kernels}\n\n\n"
        "class ModelNew(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n\n"
        f"    def forward(self, {', '.join(op.args)}):\n" + indent("\n".join(fwd), 8) + "\n"
    )


for _op in (GELU, SWIGLU):
    register(
        Generator(kind=_op.kind, defaults=defaults, apply=make_apply(_op), render=make_render(_op))
    )
