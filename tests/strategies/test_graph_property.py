"""Property test: random pointwise/reduction graphs, generated kernel vs the reference.

Each draw writes a KernelBench-format problem: a chain of random unary/binary
pointwise ops over one or two inputs (one may be a broadcast bias), optionally a
reduction (sum, mean, amax, amin, softmax, logsumexp, var) over a random axis set,
and a pointwise epilogue. The heuristic kernel and one random move from it must
match the reference through the interpreter.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.graph.realizer import GraphRealizer, initial_source
from strategies.types import RealizeRequest
from tests.strategies.graph_check import assert_correct

UNARY = ["torch.relu({})", "torch.sigmoid({})", "torch.tanh({})", "F.gelu({})", "F.silu({})",
         "F.leaky_relu({}, 0.2)", "F.elu({})", "F.softplus({})", "F.hardswish({})",
         "torch.clamp({}, -0.5, 0.7)", "({} * 1.5 + 0.25)", "torch.abs({})", "torch.exp(-{})",
         "F.mish({})", "F.hardtanh({})"]  # fmt: skip
BINARY = ["({} + {})", "({} * {})", "({} - {})", "torch.maximum({}, {})"]
REDUCE = ["torch.sum({}, dim={d}, keepdim=True)", "torch.mean({}, dim={d})",
          "torch.amax({}, dim={d}, keepdim=True)", "torch.amin({}, dim={d})",
          "torch.softmax({}, dim={d1})", "torch.logsumexp({}, dim={d1})",
          "torch.var({}, dim={d}, keepdim=True)"]  # fmt: skip


def draw(rng: random.Random) -> str:
    shape = [rng.choice([2, 3, 5]), rng.choice([4, 7, 16]), rng.choice([3, 9, 33])]
    bias_shape = rng.choice([shape, [shape[-1]], [shape[1], 1], [1]])
    expr = "x"
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.3:
            expr = rng.choice(BINARY).format(expr, rng.choice(["b", "x"]))
        else:
            expr = rng.choice(UNARY).format(expr)
    if rng.random() < 0.7:
        axes = sorted(rng.sample(range(3), rng.randint(1, 2)))
        r = rng.choice(REDUCE)
        expr = r.format(expr, d=tuple(axes) if len(axes) > 1 else axes[0], d1=axes[-1])
        if rng.random() < 0.5:
            expr = rng.choice(UNARY).format(expr)
    return (
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class Model(nn.Module):\n    def forward(self, x, b):\n"
        f"        return {expr}\n\n\n"
        f"def get_inputs():\n    return [torch.randn({shape}), torch.randn({bias_shape})]\n\n\n"
        "def get_init_inputs():\n    return []\n"
    )


def check(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    path = tmp_path / f"rand_{seed}.py"
    path.write_text(draw(rng))
    task = load_task(str(path))
    assert_correct(task, initial_source(task))
    realizer = GraphRealizer()
    strategies = list(load_catalog().runnable(task.kind, "cpu"))  # no CUDA C++ (see
    rng.shuffle(strategies)  # tests/strategies/test_graph_cuda.py for those, on the host)
    for s in strategies:
        req = RealizeRequest(task=task, strategy=s, parent_source=task.source)
        if realizer.can_realize(req):
            r = realizer.realize(req)
            assert r.ok, r.error
            assert_correct(task, r.source)
            return


@pytest.mark.parametrize("seed", range(4))
def test_random_graph(seed: int, tmp_path: Path) -> None:
    check(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 40))
def test_random_graph_sweep(seed: int, tmp_path: Path) -> None:
    check(seed, tmp_path)
