"""A thin matrix product: many rows projected onto a few columns (a GEMM with N << M, K)."""

import torch
import torch.nn as nn

M = 70
K = 50
N = 2
SIZES = {"bench": {"M": 16384, "K": 8192, "N": 16}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.matmul(A, B)


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
