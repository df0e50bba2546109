"""Mean cross-entropy loss of LLM logits against integer targets, fp32.

KernelBench format: ``Model``, ``get_inputs``, ``get_init_inputs``.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

KIND = "cross_entropy"
DTYPE = "float32"
batch_size = 4096
num_classes = 32000
SIZES = {
    "smoke": {"batch_size": 6, "num_classes": 200},
    "small": {"batch_size": 1024, "num_classes": 8000},
    "long_rows": {"batch_size": 64, "num_classes": 262144},
}


class Model(nn.Module):
    """loss = mean_i(logsumexp(logits_i) - logits_i[target_i])."""

    def __init__(self):
        super().__init__()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets)


def get_inputs():
    logits = torch.randn(batch_size, num_classes, dtype=getattr(torch, DTYPE))
    targets = torch.randint(0, num_classes, (batch_size,), dtype=torch.int64)
    return [logits, targets]


def get_init_inputs():
    return []


def get_flops():
    # max, subtract, exp, sum per element
    return 4 * batch_size * num_classes
