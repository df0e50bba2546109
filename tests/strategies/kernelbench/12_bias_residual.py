"""Scale, per-channel bias (broadcast), ReLU, residual."""

import torch
import torch.nn as nn

batch_size = 4
channels = 6
height = width = 5
bias_shape = (channels, 1, 1)
SIZES = {"bench": {"batch_size": 64, "channels": 64, "height": 128, "width": 128}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, b):
        return torch.relu(x * 0.5 + b) + x


def get_inputs():
    return [torch.randn(batch_size, channels, height, width), torch.randn(bias_shape)]


def get_init_inputs():
    return []
