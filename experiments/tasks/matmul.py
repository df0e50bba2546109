"""Dense matmul C = A @ B of LLM projection size, bf16 on the GPU (fp32 accumulate).

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn

KIND = "matmul"
DTYPE = "bfloat16"
M = 8192
K = 4096
N = 4096
SIZES = {
    "smoke": {"M": 48, "K": 40, "N": 36, "DTYPE": "float32"},
    "small": {"M": 2048, "K": 2048, "N": 2048},
    "fp32": {"M": 4096, "K": 4096, "N": 4096, "DTYPE": "float32"},
}


class Model(nn.Module):
    """C = A @ B for A (M, K) and B (K, N)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


def get_inputs():
    dtype = getattr(torch, DTYPE)
    return [torch.randn(M, K, dtype=dtype), torch.randn(K, N, dtype=dtype)]


def get_init_inputs():
    return []


def get_flops():
    return 2 * M * N * K
