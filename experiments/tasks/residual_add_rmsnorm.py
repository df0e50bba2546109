"""Residual add followed by RMSNorm, as in a pre-norm transformer block, fp32.

Returns both the normalized activations and the updated residual stream.
KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn

KIND = "residual_add_rmsnorm"
DTYPE = "float32"
batch_size = 8192
dim = 4096
eps = 1e-06
SIZES = {
    "smoke": {"batch_size": 6, "dim": 200},
    "small": {"batch_size": 2048, "dim": 4096},
    "wide": {"batch_size": 1024, "dim": 32768},
}


class Model(nn.Module):
    """h = x + residual; returns (h / sqrt(mean(h^2) + eps) * weight, h)."""

    def __init__(self, dim: int, eps: float = 1e-06):
        super().__init__()
        self.eps = eps
        # not ones, so that a kernel ignoring the weight fails the check
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(dim))

    def forward(self, x: torch.Tensor, residual: torch.Tensor):
        h = x + residual
        rms = torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return h * rms * self.weight, h


def get_inputs():
    dtype = getattr(torch, DTYPE)
    return [torch.randn(batch_size, dim, dtype=dtype), torch.randn(batch_size, dim, dtype=dtype)]


def get_init_inputs():
    return [dim, eps]


def get_flops():
    return 5 * batch_size * dim
