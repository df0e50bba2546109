"""RMS norm over channels (KernelBench style)."""

import torch
import torch.nn as nn

batch_size = 4
features = 16
dim1 = dim2 = 6
eps = 1e-5
SIZES = {"bench": {"batch_size": 64, "features": 64, "dim1": 128, "dim2": 128}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x / torch.sqrt(torch.mean(x ** 2, dim=1, keepdim=True) + eps)


def get_inputs():
    return [torch.randn(batch_size, features, dim1, dim2)]


def get_init_inputs():
    return []
