"""Exact (erf) GELU of an MLP activation (LLaMA-7B intermediate size), fp32.

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

KIND = "gelu"
DTYPE = "float32"
batch_size = 8192
dim = 11008
SIZES = {
    "smoke": {"batch_size": 37, "dim": 300},
    "small": {"batch_size": 1024, "dim": 4096},
    "bf16": {"DTYPE": "bfloat16"},
}


class Model(nn.Module):
    """y = 0.5 * x * (1 + erf(x / sqrt(2))) (``F.gelu`` default, not the tanh form)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


def get_inputs():
    return [torch.randn(batch_size, dim, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return []


def get_flops():
    # erf is a polynomial of ~10 operations, plus 4 more
    return 14 * batch_size * dim
