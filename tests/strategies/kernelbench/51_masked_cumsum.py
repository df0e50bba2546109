"""Masked cumulative sum: a boolean mask input zeroes elements before the scan (a
pointwise prologue fused into the scan's kernel)."""

import torch
import torch.nn as nn

batch_size = 6
input_shape = (45,)
dim = 1
SIZES = {"bench": {"batch_size": 4096, "input_shape": (16384,)}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x, mask):
        return torch.cumsum(x * mask, dim=self.dim)


def get_inputs():
    x = torch.randn(batch_size, *input_shape)
    mask = torch.randint(0, 2, x.shape).bool()
    return [x, mask]


def get_init_inputs():
    return [dim]
