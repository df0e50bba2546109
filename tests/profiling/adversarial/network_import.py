"""Phones home with urllib."""
import urllib.request

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        urllib.request.urlopen("http://127.0.0.1:9/")  # noqa: S310
        return torch.softmax(x, -1)
