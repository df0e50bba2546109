"""Permute then ReLU."""

import torch
import torch.nn as nn

a = 2
b = 5
c = 6
d = 7
SIZES = {"bench": {"a": 32, "b": 64, "c": 128, "d": 256}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x.permute(0, 2, 1, 3)).contiguous()


def get_inputs():
    return [torch.randn(a, b, c, d)]


def get_init_inputs():
    return []
