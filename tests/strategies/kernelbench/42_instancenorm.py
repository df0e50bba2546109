"""InstanceNorm2d module (reduction over H, W)."""

import torch
import torch.nn as nn

batch_size = 2
features = 4
dim1 = dim2 = 6
SIZES = {"bench": {"batch_size": 64, "features": 64, "dim1": 128, "dim2": 128}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, num_features):
        super().__init__()
        self.inorm = nn.InstanceNorm2d(num_features=num_features)

    def forward(self, x):
        return self.inorm(x)


def get_inputs():
    return [torch.randn(batch_size, features, dim1, dim2)]


def get_init_inputs():
    return [features]
