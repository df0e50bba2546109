"""Product over a dimension (KernelBench's product reduction): ``torch.prod(x, dim)``, the
dimension an init input. Inputs in [0.5, 1.5): a product of hundreds stays in fp32 range."""

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
        return torch.prod(x, dim=self.dim)


def get_inputs():
    return [torch.rand(batch_size, dim1, dim2) + 0.5]


def get_init_inputs():
    return [1]
