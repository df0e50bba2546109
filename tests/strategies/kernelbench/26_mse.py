"""MSE loss."""

import torch
import torch.nn as nn

batch_size = 32
features = 40
input_shape = (features,)
dim = 1
SIZES = {"bench": {"batch_size": 32768, "features": 4096}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions, targets):
        return torch.mean((predictions - targets) ** 2)


def get_inputs():
    return [torch.randn(batch_size, *input_shape), torch.randn(batch_size, *input_shape)]


def get_init_inputs():
    return []
