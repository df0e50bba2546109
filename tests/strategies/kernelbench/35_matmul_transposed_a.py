"""Matmul with a transposed operand (strided read)."""

import torch
import torch.nn as nn

M = 16 * 3
K = 40
N = 36
SIZES = {"bench": {"M": 4096, "K": 4096, "N": 4096}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.matmul(A.T, B)


def get_inputs():
    return [torch.randn(K, M), torch.randn(K, N)]


def get_init_inputs():
    return []
