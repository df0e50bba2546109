"""SwiGLU gating of an MLP (LLaMA-7B intermediate size): silu(gate) * up, fp32.

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

KIND = "swiglu"
DTYPE = "float32"
batch_size = 8192
dim = 11008
SIZES = {
    "smoke": {"batch_size": 37, "dim": 300},
    "small": {"batch_size": 1024, "dim": 4096},
    "bf16": {"DTYPE": "bfloat16"},
}


class Model(nn.Module):
    """y = gate * sigmoid(gate) * up."""

    def __init__(self):
        super().__init__()

    def forward(self, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return F.silu(gate) * up


def get_inputs():
    dtype = getattr(torch, DTYPE)
    return [torch.randn(batch_size, dim, dtype=dtype), torch.randn(batch_size, dim, dtype=dtype)]


def get_init_inputs():
    return []


def get_flops():
    # exp, add, divide, two multiplies per element
    return 5 * batch_size * dim
