"""Uses inspect to read the caller's locals."""
import inspect

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        _ = inspect.stack()
        return torch.softmax(x, -1)
