"""Run generated CUDA pointwise kernels on the CPU: the C++ source compiled by the host
compiler (g++) under a small shim (``float4``, one block of one thread, ``__ldcs`` as a
plain load), called through ctypes on CPU tensors.

The kernels are grid-stride loops, so one thread walks every element: the test sees the
exact index math, broadcast addressing, float4 lanes and scalar tail of the generated
source, and the C forms' numerics (host libm instead of CUDA's: both within a few ulp).
`install(module)` swaps a generated module's ``_cuda_pointwise`` (the CuPy launcher)
for this runner, keeping everything else of the module as generated.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

CXX = shutil.which("g++")
SHIM = r"""
#include <math.h>
#define __device__
#define __forceinline__ inline
#define __global__
#define __restrict__
struct float4 { float x, y, z, w; };
struct kb_dim3 { unsigned x; };
static const kb_dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
template <class T> static inline T __ldcs(const T* p) { return *p; }
template <class T> static inline void __stcs(T* p, T v) { *p = v; }
static inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
static inline float __int_as_float(unsigned bits) { float f; __builtin_memcpy(&f, &bits, 4); return f; }
"""
_DIR = Path(tempfile.mkdtemp(prefix="kb_cuda_emulation_"))
_LIBS: dict[tuple[str, bool], ctypes.CDLL] = {}


def compile_source(src: str, wide: bool) -> ctypes.CDLL:
    """The kernel source as a host shared library (cached per source and index width)."""
    key = (src, wide)
    if key not in _LIBS:
        assert CXX is not None, "no host C++ compiler"
        digest = hashlib.sha256(f"{wide}{src}".encode()).hexdigest()[:16]
        cu, so = _DIR / f"{digest}.cpp", _DIR / f"{digest}.so"
        cu.write_text(SHIM + src)
        cmd = [CXX, "-shared", "-fPIC", "-O1", "-ffp-contract=off", f"-DKB_WIDE={int(wide)}",
               "-Wall", "-Wno-unused-variable", "-o", str(so), str(cu)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr
        _LIBS[key] = ctypes.CDLL(str(so))
    return _LIBS[key]


class Runner:
    """A stand-in for the generated ``_cuda_pointwise`` that runs on CPU tensors."""

    def __init__(self, wide: bool = False) -> None:
        self.wide = wide
        self.calls: list[dict[str, Any]] = []  # what each launch got (n, vec, n4)

    def __call__(self, src: str, tensors: tuple[torch.Tensor, ...], floats: tuple[Any, ...],
                 sizes: tuple[int, ...], n: int, vec: bool, threads: int) -> None:  # fmt: skip
        assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)
        assert 64 <= threads <= 1024
        idx = ctypes.c_longlong if self.wide else ctypes.c_int
        lib = compile_source(src, self.wide)
        n4 = n // 4 if vec else 0
        if vec:  # what the float4 path relies on
            assert all(t.data_ptr() % 16 == 0 for t in tensors if t.numel() > 1)
        args = [ctypes.c_void_p(t.data_ptr()) for t in tensors]
        args += [ctypes.c_float(float(v)) for v in floats] + [idx(int(s)) for s in sizes]
        if n4:
            lib.vec4_kernel(*args, idx(0), idx(n4))
        if n > 4 * n4:
            lib.scalar_kernel(*args, idx(4 * n4), idx(n))
        self.calls.append({"n": n, "vec": vec, "n4": n4})


def install(module: ModuleType, wide: bool = False) -> Runner:
    runner = Runner(wide)
    module._cuda_pointwise = runner  # type: ignore[attr-defined]
    return runner
