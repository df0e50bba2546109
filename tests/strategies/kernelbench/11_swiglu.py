"""SwiGLU gate."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 12
dim = 100
SIZES = {"bench": {"batch_size": 4096, "dim": 8192}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, gate, up):
        return F.silu(gate) * up


def get_inputs():
    return [torch.randn(batch_size, dim), torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
