"""RMSNorm (LLaMA-style) over the hidden dimension of a token batch, fp32.

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn

KIND = "rmsnorm"
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
    """y = x / sqrt(mean(x^2) + eps) * weight over the last dimension."""

    def __init__(self, dim: int, eps: float = 1e-06):
        super().__init__()
        self.eps = eps
        # not ones, so that a kernel ignoring the weight fails the check
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * rms * self.weight


def get_inputs():
    return [torch.randn(batch_size, dim, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [dim, eps]


def get_flops():
    return 4 * batch_size * dim
