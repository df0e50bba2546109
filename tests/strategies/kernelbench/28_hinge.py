"""Hinge loss."""

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
        return torch.mean(torch.clamp(1 - predictions * targets, min=0))


def get_inputs():
    return [torch.randn(batch_size, *input_shape), torch.randint(0, 2, (batch_size, 1)).float() * 2 - 1]


def get_init_inputs():
    return []
