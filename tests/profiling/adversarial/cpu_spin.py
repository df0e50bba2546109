"""Burns CPU forever (stopped by the CPU-time or wall limit)."""
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        n = 0
        while True:
            n += 1
