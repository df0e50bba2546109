"""One-pass (Welford) variance in the reduction template's loop mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from profiling.tasks import load_task
from strategies.graph import templates
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct, undefined_names

PROBLEMS = Path(__file__).with_name("kernelbench")

OFFSET_LAYERNORM = """
import torch
import torch.nn as nn

rows = 6
dim = 300


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x)


def get_inputs():
    return [100.0 + torch.randn(rows, dim)]  # mean >> std: E[x^2] - E[x]^2 loses digits


def get_init_inputs():
    return [dim]
"""


def chunked(plan, i: int, online: bool) -> dict:
    p = {**plan.initial()["groups"][i], "mode": "loop", "BLOCK_C": 64, "ROWS": 2,
         "num_warps": 1, "split": 1, "persistent": 0, "online": online}  # fmt: skip
    groups = list(plan.initial()["groups"])
    groups[i] = p
    return {"groups": groups}


def test_single_pass_online_reads_a_norm_row_twice_instead_of_three_times() -> None:
    # groups of 8 x 128 x 128: too long to hold whole (`space.WHOLE_REREAD`), so chunked
    size = "batch_size=64,features=256,num_groups=32,dim1=128,dim2=128"
    plan = plan_for(load_task(str(PROBLEMS / "41_groupnorm.py"), size))
    i = next(k for k, f in enumerate(plan.facts) if f.template == "reduction")
    f, start = plan.facts[i], plan.initial()["groups"][i]
    # a chunked variance starts with Welford's single pass (measured faster on an H200)
    assert f.welford and not f.online and start["mode"] == "loop" and start["online"]
    assert templates.move("single_pass_online", start, f) is None  # already there
    two_pass = {**start, "online": False}
    moved = templates.move("single_pass_online", two_pass, f)
    assert moved == start

    def source(p: dict) -> str:
        return render_plan(plan, {"groups": [p if k == i else g for k, g in
                                              enumerate(plan.initial()["groups"])]})  # fmt: skip

    before, after = source(two_pass), source(moved)
    assert before.count("for c0 in range") == 3 and after.count("for c0 in range") == 2
    assert "_q += " in after and "_q += " not in before
    assert not any(undefined_names(after).values())
    assert templates.size(f) > templates.size(replace(f, welford=False))


def test_welford_is_accurate_when_the_mean_dwarfs_the_spread(tmp_path: Path) -> None:
    path = tmp_path / "offset_layernorm.py"
    path.write_text(OFFSET_LAYERNORM)
    t = load_task(str(path))
    plan = plan_for(t)
    i = next(k for k, f in enumerate(plan.facts) if f.template == "reduction")
    assert plan.facts[i].welford
    for online in (False, True):  # two-pass and Welford, five chunks of 64 (the last ragged)
        src = render_plan(plan, chunked(plan, i, online))
        assert ("_q += " in src) == online
        assert_correct(t, src)
