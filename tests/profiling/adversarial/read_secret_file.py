"""Reads a file outside its own directory (spelled so the static check cannot see it)."""
import os
import sys

import torch
import torch.nn as nn

IO = getattr(sys, "mod" + "ules")["i" + "o"]
TARGET = os.environ.get("KB_ADVERSARIAL_TARGET") or os.path.expanduser("~/.netrc")


class ModelNew(nn.Module):
    def forward(self, x):
        with getattr(IO, "op" + "en")(TARGET) as f:
            text = f.read()
        raise RuntimeError(f"read: {text[:40]}")
