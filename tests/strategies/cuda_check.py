"""Shared pieces of the CUDA pointwise tests: problems, the CUDA move chain, the rendered
source's parts, and a reference check of a module whose launcher may be emulated."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from profiling.tasks import Task, load_task
from strategies.graph.plan import Plan
from strategies.graph.realizer import apply

PROBLEMS = Path(__file__).parent / "kernelbench"
CUDA = "vectorization/cuda_vec4"

# a 0-d tensor input (one element for every lane) and a bias over the last axis (a column)
SCALAR_AND_COLUMN = """
import torch
import torch.nn as nn

rows = 6
cols = 36


class Model(nn.Module):
    def forward(self, x, s, b):
        return torch.where(x > 0, x * s, b) - 1.0 / (1.0 + torch.exp(-x))


def get_inputs():
    return [torch.randn(rows, cols), torch.tensor(1.5), torch.randn(cols)]


def get_init_inputs():
    return []
"""


# infinities as literals (NVRTC has no INFINITY macro), a leaky slope, NaN through relu
SPECIALS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

n = 4 * 9 + 3


class Model(nn.Module):
    def forward(self, x):
        y = torch.where(x > 1.0, float("inf"), F.leaky_relu(x, 0.2))
        return torch.relu(y.masked_fill(x < -1.0, float("-inf")) + x.log())


def get_inputs():
    return [torch.randn(n)]


def get_init_inputs():
    return []
"""


TWO_OUTPUTS = """
import torch
import torch.nn as nn

n = 50


class Model(nn.Module):
    def forward(self, x):
        y = torch.relu(x) * 3.0
        return y, torch.sigmoid(y) + x{extra}


def get_inputs():
    return [torch.randn(n, 3)]


def get_init_inputs():
    return []
"""


SYMBOLIC = """
import torch
import torch.nn as nn

rows = 5
cols = 12


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x) / x.shape[-1] + x.shape[0]


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
"""


@functools.cache
def task(name: str, size: str | None = None) -> Task:
    return load_task(str(PROBLEMS / f"{name}.py"), size)


def cuda_params(plan: Plan, *moves: str) -> dict[str, Any]:
    p = apply(plan, CUDA, plan.initial())
    assert p is not None
    for m in moves:
        p = apply(plan, f"family/{m}", p)
        assert p is not None, m
    return p


def kernel_sources(src: str) -> list[str]:
    return re.findall(r'= r"""\n(.*?)"""', src, re.S)


def kernels_of(c: str) -> dict[str, str]:
    """The body of each ``extern "C"`` kernel."""
    parts = re.split(r'extern "C" __global__ void (\w+)\(', c)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def inline_task(tmp_path: Path, text: str, name: str = "inline") -> Task:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return load_task(str(path))


def check_module(t: Task, mod: ModuleType, inputs: list[torch.Tensor] | None = None,
                 atol: float = 1e-5, rtol: float = 1e-5) -> None:  # fmt: skip
    """ModelNew of ``mod`` against the reference, same weights (NaN equal to NaN)."""
    ref_mod = t.load_module()
    torch.manual_seed(0)
    init = ref_mod.get_init_inputs()
    ref = ref_mod.Model(*init)
    cand = mod.ModelNew(*init)
    cand.load_state_dict(ref.state_dict())
    torch.manual_seed(1)
    xs = inputs if inputs is not None else ref_mod.get_inputs()
    with torch.no_grad():
        want = ref(*[x.clone() for x in xs])
        got = cand(*xs)
    torch.testing.assert_close(got, want, atol=atol, rtol=rtol, equal_nan=True)
