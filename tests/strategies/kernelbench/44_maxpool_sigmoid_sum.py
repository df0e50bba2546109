"""MaxPool (library), sigmoid and a sum over channels."""

import torch
import torch.nn as nn

batch_size = 2
channels = 4
height = width = 8
SIZES = {"bench": {"batch_size": 64, "channels": 64, "height": 256, "width": 256}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return torch.sum(torch.sigmoid(self.pool(x)), dim=1)


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return []
