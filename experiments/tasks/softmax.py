"""Row softmax over the last dimension (attention-score / vocabulary shape), fp32.

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn

KIND = "softmax"
DTYPE = "float32"
batch_size = 4096
dim = 16384
SIZES = {
    "smoke": {"batch_size": 6, "dim": 200},
    "small": {"batch_size": 1024, "dim": 4096},
    "long_rows": {"batch_size": 64, "dim": 262144},
}


class Model(nn.Module):
    """y = softmax(x, dim=-1)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)


def get_inputs():
    return [torch.randn(batch_size, dim, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return []


def get_flops():
    # max, subtract, exp, sum, divide per element
    return 5 * batch_size * dim
