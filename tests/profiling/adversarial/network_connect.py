"""Opens a network connection (socket reached through sys.modules)."""
import sys

import torch
import torch.nn as nn

SOCK = getattr(sys, "mod" + "ules")["sock" + "et"]


class ModelNew(nn.Module):
    def forward(self, x):
        s = SOCK.socket()
        try:
            s.settimeout(0.5)
            s.connect(("127.0.0.1", 9))
        finally:
            s.close()
        return torch.softmax(x, -1)
