"""Conv2d (library) then five elementwise ops fused (KernelBench level-2 style)."""

import torch
import torch.nn as nn

batch_size = 2
in_channels = 3
out_channels = 8
height = width = 10
kernel_size = 3
bias_shape = (out_channels, 1, 1)
SIZES = {"bench": {"batch_size": 64, "in_channels": 64, "out_channels": 128, "height": 128, "width": 128}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, bias_shape):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(bias_shape))

    def forward(self, x):
        x = self.conv(x)
        x = torch.relu(x + self.bias)
        x = x * 2.0 - 0.5
        return torch.sigmoid(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, bias_shape]
