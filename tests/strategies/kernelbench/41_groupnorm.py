"""GroupNorm module (reductions over several axes)."""

import torch
import torch.nn as nn

batch_size = 2
features = 8
num_groups = 4
dim1 = dim2 = 5
SIZES = {"bench": {"batch_size": 64, "features": 256, "num_groups": 32, "dim1": 64, "dim2": 64}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, num_features, num_groups):
        super().__init__()
        self.gn = nn.GroupNorm(num_groups=num_groups, num_channels=num_features)

    def forward(self, x):
        return self.gn(x)


def get_inputs():
    return [torch.randn(batch_size, features, dim1, dim2)]


def get_init_inputs():
    return [features, num_groups]
