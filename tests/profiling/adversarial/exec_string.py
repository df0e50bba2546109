"""Hides an import inside exec()."""
import torch
import torch.nn as nn

exec("import gc")  # noqa: S102


class ModelNew(nn.Module):
    def forward(self, x):
        return torch.softmax(x, -1)
