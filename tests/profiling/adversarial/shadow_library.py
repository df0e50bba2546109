"""Writes torch.py and numpy.py into its working directory, hoping later imports pick them up."""
import os
import sys

import torch
import torch.nn as nn

IO = getattr(sys, "mod" + "ules")["i" + "o"]
for name in ("torch.py", "numpy.py", "colorsys.py"):
    with getattr(IO, "op" + "en")(os.path.join(os.getcwd(), name), "w") as f:
        f.write("raise SystemExit('shadowed')\n")


class ModelNew(nn.Module):
    def forward(self, x):
        import colorsys  # a module nobody imported yet: must still be the real one

        assert colorsys.__file__ and "candidate-" not in colorsys.__file__
        return torch.softmax(x, -1)
