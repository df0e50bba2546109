"""Each call also scribbles into the output it returned on the previous call."""
import torch
import torch.nn as nn

_prev = []


class ModelNew(nn.Module):
    def forward(self, x):
        if _prev:
            _prev[0].fill_(0.5)
        y = torch.softmax(x, -1)
        _prev[:] = [y]
        return y
