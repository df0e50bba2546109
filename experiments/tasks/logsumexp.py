"""Row log-sum-exp over a vocabulary-sized last dimension, fp32.

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn

KIND = "logsumexp"
DTYPE = "float32"
batch_size = 4096
dim = 32000
SIZES = {
    "smoke": {"batch_size": 6, "dim": 200},
    "small": {"batch_size": 1024, "dim": 8000},
    "long_rows": {"batch_size": 64, "dim": 262144},
}


class Model(nn.Module):
    """y = logsumexp(x, dim=-1), one value per row."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(x, dim=-1)


def get_inputs():
    return [torch.randn(batch_size, dim, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return []


def get_flops():
    # max, subtract, exp, sum per element
    return 4 * batch_size * dim
