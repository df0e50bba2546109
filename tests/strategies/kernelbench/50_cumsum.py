"""Cumulative sum along a dimension (KernelBench's scan): ``torch.cumsum(x, dim)``, the
dimension an init input, the row shape a tuple constant."""

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

    def forward(self, x):
        return torch.cumsum(x, dim=self.dim)


def get_inputs():
    return [torch.randn(batch_size, *input_shape)]


def get_init_inputs():
    return [dim]
