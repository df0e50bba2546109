"""A lone convolution: nothing to generate (the realizer refuses it)."""

import torch
import torch.nn as nn

batch_size = 2
in_channels = 3
out_channels = 4
size = 8
SIZES = {"bench": {"batch_size": 16, "in_channels": 64, "out_channels": 64, "size": 128}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, size, size)]


def get_init_inputs():
    return [in_channels, out_channels]
