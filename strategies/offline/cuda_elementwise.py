"""CUDA C++ (through CuPy) renderings of the elementwise kinds: ``float4`` accesses.

Reached with ``vectorization/cuda_vec4``. The module compiles its kernels with
NVRTC on first use (``cupy.RawModule``; cupy is imported lazily so the module
imports anywhere), launches them on PyTorch's current stream, and takes fp32
CUDA tensors only. A grid-stride ``float4`` kernel covers the 16-byte-aligned
bulk, a scalar kernel the tail (or everything when a pointer is misaligned).
"""

from __future__ import annotations

from strategies.offline._dense import NUM_SMS_HELPER, changed, indent, pow2_step
from strategies.offline.base import Params

# the CUDA variant's knobs; part of the elementwise defaults so headers always carry them
CUDA_PARAMS: Params = {"threads": 256, "streaming": False}
MIN_THREADS, MAX_THREADS = 64, 1024

# kind -> scalar device function body over float arguments named after forward()'s
_OPS = {
    "gelu": "return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));",
    "swiglu": "return gate / (1.0f + expf(-gate)) * up;",
}


def apply(name: str, params: Params) -> Params | None:
    """Strategies that still mean something once the kernel is CUDA C++."""
    if name in ("block_size_up", "block_size_down"):
        new = pow2_step(params["threads"], name.endswith("up"), MIN_THREADS, MAX_THREADS)
        return None if new is None else changed(params, threads=new)
    if name == "streaming_eviction":
        return changed(params, streaming=True)
    return None


def cuda_source(kind: str, args: tuple[str, ...], streaming: bool) -> str:
    floats = ", ".join(f"float {a}" for a in args)
    vec_in = ", ".join(f"const float4* __restrict__ {a}" for a in args)
    sca_in = ", ".join(f"const float* __restrict__ {a}" for a in args)
    ld = (lambda p: f"__ldcs({p})") if streaming else (lambda p: f"*({p})")
    loads = "\n".join(f"        const float4 {a}4 = {ld(f'{a} + i')};" for a in args)
    lanes = "\n".join(
        f"        r.{c} = op({', '.join(f'{a}4.{c}' for a in args)});" for c in "xyzw"
    )
    st = "__stcs(out + i, r);" if streaming else "out[i] = r;"
    return f"""\
__device__ __forceinline__ float op({floats}) {{
    {_OPS[kind]}
}}

extern "C" __global__ void vec4_kernel({vec_in}, float4* __restrict__ out, long long n4) {{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {{
{loads}
        float4 r;
{lanes}
        {st}
    }}
}}

extern "C" __global__ void scalar_kernel({sca_in}, float* __restrict__ out,
                                         long long start, long long n) {{
    const long long i = start + (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = op({", ".join(f"{a}[i]" for a in args)});
}}
"""


def render(kind: str, args: tuple[str, ...], doc: str, params: Params) -> str:
    threads, streaming = params["threads"], params["streaming"]
    first = args[0]
    check = " or ".join(f"{a}.dtype != torch.float32 or not {a}.is_cuda" for a in args)
    fwd = (
        "\n".join(f"{a} = {a}.contiguous()" for a in args)
        + f"""
if {check}:
    raise TypeError("this CUDA kernel takes float32 CUDA tensors")
out = torch.empty_like({first})
_launch(({", ".join(args)},), out)
return out"""
    )
    return f'''"""{kind}: {doc}; CUDA C++ via CuPy, float4 loads, {threads} threads/block."""

import functools

import numpy as np
import torch
import torch.nn as nn

_CUDA_SRC = r"""
{cuda_source(kind, args, streaming)}"""
THREADS = {threads}
{NUM_SMS_HELPER}

@functools.lru_cache(maxsize=None)
def _kernels():
    import cupy  # lazily: importing this module needs no GPU

    mod = cupy.RawModule(code=_CUDA_SRC, options=("--std=c++14",))
    return mod.get_function("vec4_kernel"), mod.get_function("scalar_kernel")


def _cupy_stream(cupy, stream):
    """PyTorch's current stream as a CuPy stream, so the kernels queue behind torch's work."""
    if hasattr(cupy.cuda.Stream, "from_external") and hasattr(stream, "__cuda_stream__"):
        return cupy.cuda.Stream.from_external(stream)
    return cupy.cuda.ExternalStream(stream.cuda_stream)  # CuPy < 14


def _launch(inputs, out):
    import cupy

    vec4, scalar = _kernels()
    n = out.numel()
    tensors = (*inputs, out)
    n4 = n // 4 if all(t.data_ptr() % 16 == 0 for t in tensors) else 0
    dev = out.device
    with cupy.cuda.Device(dev.index), _cupy_stream(cupy, torch.cuda.current_stream(dev)):
        arrays = tuple(cupy.from_dlpack(t) for t in tensors)
        if n4:
            blocks = min((n4 + THREADS - 1) // THREADS, _num_sms(dev) * (2048 // THREADS))
            vec4((blocks,), (THREADS,), (*arrays, np.int64(n4)))
        rest = n - 4 * n4
        if rest:
            blocks = (rest + THREADS - 1) // THREADS
            scalar((blocks,), (THREADS,), (*arrays, np.int64(4 * n4), np.int64(n)))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, {", ".join(args)}):
{indent(fwd, 8)}
'''
