"""Linear, bias, GELU, scale, residual (matmul epilogue)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 24
in_features = 40
out_features = 40
scaling_factor = 0.5
SIZES = {"bench": {"batch_size": 8192, "in_features": 4096, "out_features": 4096}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, in_features, out_features, scaling_factor):
        super().__init__()
        self.gemm = nn.Linear(in_features, out_features)
        self.scaling_factor = scaling_factor

    def forward(self, x):
        return F.gelu(self.gemm(x)) * self.scaling_factor + x


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, scaling_factor]
