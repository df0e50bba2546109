"""Batched matmul with a scale epilogue."""

import torch
import torch.nn as nn

batch_size = 3
m = 20
k = 24
n = 18
SIZES = {"bench": {"batch_size": 64, "m": 512, "k": 512, "n": 512}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.bmm(A, B) * 0.125


def get_inputs():
    return [torch.randn(batch_size, m, k), torch.randn(batch_size, k, n)]


def get_init_inputs():
    return []
