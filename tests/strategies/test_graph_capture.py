"""The captured graph: value names that depend on the surviving graph only."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import fx

from profiling.tasks import load_task
from strategies.graph.capture import _renumbered, capture

TASKS = Path(__file__).resolve().parents[2] / "experiments" / "tasks"


def _gapped() -> fx.GraphModule:
    """``x -> ne(x, 0) & ne(x, 1)`` with the numbering a trace leaves when two earlier
    ``ne`` nodes were removed as dead code."""
    g = fx.Graph()
    x = g.placeholder("arg0_1")
    a = g.create_node("call_function", torch.ops.aten.ne.Scalar, (x, 0), name="ne_2")
    b = g.create_node("call_function", torch.ops.aten.ne.Scalar, (x, 1), name="ne_3")
    c = g.create_node(
        "call_function", torch.ops.aten.bitwise_and.Tensor, (a, b), name="bitwise_and_4"
    )
    g.output(c)
    return fx.GraphModule(torch.nn.Module(), g)


def test_renumbered_names_are_dense_and_compute_the_same() -> None:
    gm = _gapped()
    assert [n.name for n in gm.graph.nodes] == ["arg0_1", "ne_2", "ne_3", "bitwise_and_4", "output"]
    out = _renumbered(gm)
    assert [n.name for n in out.graph.nodes] == ["arg0_1", "ne", "ne_1", "bitwise_and", "output"]
    x = torch.tensor([0.0, 1.0, 2.0])
    assert torch.equal(out(x), gm(x))
    assert torch.equal(out(x), torch.tensor([False, False, True]))


def test_renumbering_keeps_names_already_dense() -> None:
    once = _renumbered(_gapped())
    assert [n.name for n in _renumbered(once).graph.nodes] == [n.name for n in once.graph.nodes]


def test_cross_entropy_names_have_no_gaps() -> None:
    """torch 2.11 and 2.13 leave a different number of dead ``ne`` nodes in this
    decomposition; the kernels' names must not show it (the committed landscape, recorded
    on 2.11, re-derives on 2.13)."""
    gm = capture(load_task(str(TASKS / "cross_entropy.py"))).gm
    names = [n.name for n in gm.graph.nodes if n.op == "call_function"]
    assert [n for n in names if n == "ne" or n.startswith("ne_")] == ["ne", "ne_1", "ne_2"]
    assert len(set(names)) == len(names)


def test_an_unsqueeze_squeeze_pair_cancels(tmp_path: Path) -> None:
    """``squeeze(unsqueeze(x, d), d)`` is dropped at capture, so the ops around it share a
    group; a squeeze of another size-1 dim is a real view and stays."""
    from strategies.graph.plan import plan_for
    from tests.strategies.graph_check import problem_task

    consts, inputs = "b = 3\nn = 5", "torch.randn(b, 1, n)"
    pair = problem_task(tmp_path, "pair", consts, "x",
                        "torch.relu(x).unsqueeze(-2).squeeze(-2) + 1.0", inputs)  # fmt: skip
    ops = [str(n.target) for n in capture(pair).gm.graph.nodes if n.op == "call_function"]
    assert not any("squeeze" in o for o in ops), ops
    assert plan_for(pair).summary == "pointwise(relu, add)"
    other = problem_task(tmp_path, "other", consts, "x",
                         "torch.relu(x).unsqueeze(-1).squeeze(1) + 1.0", inputs)  # fmt: skip
    ops = [str(n.target) for n in capture(other).gm.graph.nodes if n.op == "call_function"]
    assert any("unsqueeze" in o for o in ops) and any(".squeeze" in o for o in ops), ops


DIAGONAL = {
    # body: the summary after the rewrite
    "torch.diag(a) @ b": "pointwise(mul)",
    "b.t() @ torch.diag(a)": "pointwise(mul) + torch(t)",
    "torch.matmul(torch.diag(a), b) + 1.0": "pointwise(mul, add)",
    # the diagonal matrix is read elsewhere too: built for that reader only
    "torch.diag(a) @ b + torch.diag(a)[:, :1]": "pointwise(mul, add) + torch(diag_embed, slice)",
}


def test_a_diagonal_product_is_a_scaling(tmp_path: Path) -> None:
    """``diag(v) @ B`` and ``A @ diag(v)`` are captured as row/column scalings (no product,
    no N x N matrix), and compute what the reference does."""
    from strategies.graph.plan import plan_for
    from strategies.graph.realizer import render_plan
    from tests.strategies.graph_check import assert_correct, problem_task

    for i, (body, summary) in enumerate(DIAGONAL.items()):
        t = problem_task(tmp_path, f"diag{i}", "n = 7\nm = 5", "a, b", body,
                         "torch.randn(n), torch.randn(n, m)")  # fmt: skip
        ops = {str(n.target) for n in capture(t).gm.graph.nodes if n.op == "call_function"}
        assert "aten.mm.default" not in ops, (body, ops)
        plan = plan_for(t)
        assert plan.summary == summary, body
        assert_correct(t, render_plan(plan, plan.initial()), atol=0, rtol=0)  # same values
    kb = load_task(str(Path(__file__).with_name("kernelbench") / "52_diag_matmul.py"))
    assert plan_for(kb).templates == ("pointwise",)
    # off the main diagonal: a real (n + 1)-square matrix, left a product
    off = problem_task(tmp_path, "diag_off", "n = 7\nm = 5", "a, b", "torch.diag(a, 1) @ b",
                       "torch.randn(n), torch.randn(n + 1, m)")  # fmt: skip
    assert plan_for(off).summary == "matmul(mm) + torch(diag_embed)"
    assert_correct(off, render_plan(plan_for(off), plan_for(off).initial()))


def test_a_min_size_renders_as_python(tmp_path: Path) -> None:
    """``torch.diag`` of a matrix has min(rows, cols) elements: sympy's ``Min`` in the
    traced sizes is written as Python's ``min`` (it was a NameError at run time)."""
    from strategies.graph.plan import plan_for
    from strategies.graph.realizer import render_plan
    from tests.strategies.graph_check import assert_correct, problem_task

    t = problem_task(tmp_path, "diag_of", "n = 7\nm = 5", "b", "torch.diag(b) * 2.0",
                     "torch.randn(n, m)")  # fmt: skip
    src = render_plan(plan_for(t), plan_for(t).initial())
    assert "min(" in src and "Min(" not in src
    assert_correct(t, src)
