"""Transpose copy."""

import torch
import torch.nn as nn

batch_size = 3
rows = 17
cols = 40
SIZES = {"bench": {"batch_size": 16, "rows": 2048, "cols": 2048}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.transpose(1, 2).contiguous()


def get_inputs():
    return [torch.randn(batch_size, rows, cols)]


def get_init_inputs():
    return []
