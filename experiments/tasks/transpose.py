"""Out-of-place transpose of a square fp32 matrix: ``x.t().contiguous()`` (layout-bound).

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn

KIND = "transpose"
DTYPE = "float32"
rows = 8192
cols = 8192
SIZES = {
    "smoke": {"rows": 45, "cols": 70},
    "small": {"rows": 2048, "cols": 2048},
    "wide": {"rows": 2048, "cols": 32768},
}


class Model(nn.Module):
    """y[j, i] = x[i, j], materialized row-major."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.t().contiguous()


def get_inputs():
    return [torch.randn(rows, cols, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return []


def get_flops():
    return 0
