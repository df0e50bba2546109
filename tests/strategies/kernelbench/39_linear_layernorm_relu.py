"""Linear, LayerNorm, ReLU: matmul + row reduction."""

import torch
import torch.nn as nn

batch_size = 20
in_features = 30
out_features = 50
SIZES = {"bench": {"batch_size": 8192, "in_features": 4096, "out_features": 4096}}  # realistic sizes for experiments.bench_kernelbench


class Model(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)
        self.norm = nn.LayerNorm(out_features)

    def forward(self, x):
        return torch.relu(self.norm(self.fc(x)))


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]
