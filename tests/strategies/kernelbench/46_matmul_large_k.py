"""Matmul with a long K next to a small output (KernelBench level 1's large-K shape)."""

import torch
import torch.nn as nn

M = 20
N = 24
K = 300
SIZES = {"bench": {"M": 256, "N": 256, "K": 131072}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.matmul(A, B)


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
