"""Linear layer with bias followed by exact GELU (an MLP up-projection), bf16 on the GPU.

The Linear's weight and bias are created in ``__init__`` in ``DTYPE``, which is
passed as the third init input so a candidate builds identical parameters.
KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

KIND = "matmul_bias_gelu"
DTYPE = "bfloat16"
batch_size = 8192
in_features = 4096
out_features = 11008
SIZES = {
    "smoke": {"batch_size": 48, "in_features": 40, "out_features": 36, "DTYPE": "float32"},
    "small": {"batch_size": 2048, "in_features": 2048, "out_features": 5504},
}


class Model(nn.Module):
    """y = gelu(x @ weight^T + bias), GELU in its exact (erf) form."""

    def __init__(self, in_features: int, out_features: int, dtype: str = "float32"):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, dtype=getattr(torch, dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.linear(x))


def get_inputs():
    return [torch.randn(batch_size, in_features, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [in_features, out_features, DTYPE]


def get_flops():
    return 2 * batch_size * in_features * out_features
