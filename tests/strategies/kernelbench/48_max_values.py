"""Max over a dimension, as KernelBench writes it: ``torch.max(x, dim)[0]`` (the values of
the (values, indices) pair), the dimension an init input."""

import torch
import torch.nn as nn

batch_size = 4
dim1 = 33
dim2 = 20
SIZES = {"bench": {"batch_size": 64, "dim1": 512, "dim2": 1024}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.max(x, dim=self.dim)[0]


def get_inputs():
    return [torch.randn(batch_size, dim1, dim2)]


def get_init_inputs():
    return [2]
