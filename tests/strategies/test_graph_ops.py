"""Formulas of strategies.graph.ops at the values where they are easy to get wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from profiling.tasks import exec_module, load_task
from strategies.graph.plan import plan_for
from strategies.graph.realizer import initial_source

XLOGY = """
import torch
import torch.nn as nn

n = 8


class Model(nn.Module):
    def forward(self, x, y):
        return torch.xlogy(x, y) * 2.0


def get_inputs():
    x = torch.tensor([0.0, 0.0, 0.0, 2.0, -1.5, 3.0, 0.5, 1.0]).repeat(n // 8)
    y = torch.tensor([0.0, float("nan"), 4.0, 0.0, 2.0, float("inf"), -1.0, 1.0]).repeat(n // 8)
    return [x, y]


def get_init_inputs():
    return []
"""


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's log(0), log(-1) in the interpreter
def test_xlogy_is_fused_and_matches_torch_at_zero_nan_inf_and_negative(tmp_path: Path) -> None:
    """xlogy(0, y) = 0 even at y = 0 (where x * log(y) is NaN), NaN where y is NaN, -inf and
    NaN where torch gives them; fused with the scaling (KL divergence's xlogy(t, t) used to be
    a PyTorch step: a whole extra pass)."""
    path = tmp_path / "xlogy.py"
    path.write_text(XLOGY)
    task = load_task(str(path))
    assert plan_for(task).summary == "pointwise(xlogy, mul)"
    mod = task.load_module()
    x, y = mod.get_inputs()
    got = exec_module(initial_source(task), "cand_xlogy").ModelNew()(x.clone(), y.clone())
    torch.testing.assert_close(got, mod.Model()(x, y), equal_nan=True)
    assert got[0] == 0 and got[1].isnan() and got[3] == -float("inf")


INPLACE = """
import torch
import torch.nn as nn

n = 64


class Model(nn.Module):
    def forward(self, x, z):
        y = torch.relu(x)
        y.add_(1.0)  # a private temporary: nothing else sees the mutation
        z.mul_(3.0)  # an input: the caller sees it, so it stays a PyTorch step
        return y * 2.0 + z


def get_inputs():
    return [torch.randn(n), torch.randn(n)]


def get_init_inputs():
    return []
"""


def test_in_place_ops_on_private_temporaries_fuse_and_on_inputs_stay(tmp_path: Path) -> None:
    """cosine_similarity's clamp_min_ on a clone used to stay a PyTorch step (and split the
    loss into five kernels); an in-place op on a fresh value becomes its out-of-place form,
    one on an input keeps mutating the input."""
    path = tmp_path / "inplace.py"
    path.write_text(INPLACE)
    task = load_task(str(path))
    summary = plan_for(task).summary
    assert "relu, add" in summary and "torch(mul_)" in summary, summary
    mod = task.load_module()
    x, z = mod.get_inputs()
    z_ref, z_new = z.clone(), z.clone()
    want = mod.Model()(x.clone(), z_ref)
    got = exec_module(initial_source(task), "cand_inplace").ModelNew()(x.clone(), z_new)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(z_new, z_ref)  # the input was mutated as the reference does
    cosine = plan_for(load_task(str(Path(__file__).parent / "kernelbench/30_cosine_loss.py")))
    assert cosine.summary.count("reduction(") == 2 and "torch(" not in cosine.summary
