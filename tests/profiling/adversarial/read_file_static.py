"""Reads ~/.netrc with open() in plain sight."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        with open("/root/.netrc") as f:
            _ = f.read()
        return torch.softmax(x, -1)
