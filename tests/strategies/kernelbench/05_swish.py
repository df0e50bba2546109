"""Swish."""

import torch
import torch.nn as nn

batch_size = 16
dim = 8 * 37
SIZES = {"bench": {"batch_size": 4096, "dim": 8192}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x * torch.sigmoid(x)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
