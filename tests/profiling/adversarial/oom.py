"""Allocates far more memory than exists."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        big = torch.empty(1 << 50, dtype=torch.uint8, device=x.device)
        return big[: x.numel()].view(x.shape).float()
