"""Writes 4 TiB past its output: an illegal memory access (GPU)."""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _oob(y_ptr, far, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK) + far
    tl.store(y_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32))


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _oob[(1,)](y, 1 << 40, BLOCK=128)
        return y
