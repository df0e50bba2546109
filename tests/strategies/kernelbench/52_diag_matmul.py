"""A diagonal matrix times a matrix, as KernelBench writes it: ``torch.diag(A) @ B`` (an
N x N matrix built from a vector, then an N^3 product, for what is a row scaling)."""

import torch
import torch.nn as nn

N = 38
M = 30
SIZES = {"bench": {"N": 4096, "M": 4096}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return torch.diag(A) @ B


def get_inputs():
    return [torch.randn(N), torch.randn(N, M)]


def get_init_inputs():
    return []
