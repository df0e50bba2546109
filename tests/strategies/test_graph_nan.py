"""NaN through the reduction template: torch's max/min return a NaN the row holds and
argmax/argmin its first index; Triton's ``tl.max``, ``tl.maximum`` and comparisons drop
NaN. Every reduction mode (single pass, chunked loop, persistent loop, split rows) of the
max/min/arg problems runs on inputs with NaNs at chosen places: none, one, several, a
NaN beside +-inf, a whole row; the interpreter here, compiled kernels on the GPU (``gpu``).
A softmax's shift stays a plain max (its NaN reaches the row through ``exp(x - max)``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from profiling.tasks import Task, exec_module, load_task
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from strategies.graph.reduction_parts import keeps_nan
from tests.strategies.graph_check import problem_task
from tests.strategies.test_graph_reduction_modes import mode_sources, reduction_groups

PROBLEMS = Path(__file__).with_name("kernelbench")
NAMES = ["18_max_dim", "19_min_dim", "20_argmax", "21_argmin"]


def poison(x: torch.Tensor, dim: int) -> torch.Tensor:
    """NaNs along ``dim`` (the reduced axis): lane 0 of the other axes none; lane 1 one NaN
    late in the row; lane 2 two NaNs (the first one wins an arg); lane 3 a NaN beside +inf
    and -inf; lane 4 all NaN. Other lanes keep their values (and any +-inf put there)."""
    x = x.clone().movedim(dim, -1)
    flat = x.reshape(-1, x.shape[-1])
    c = flat.shape[1]
    if flat.shape[0] > 4:
        flat[1, c - 2] = float("nan")
        flat[2, c // 2] = float("nan")
        flat[2, c // 3] = float("nan")
        flat[3, 0], flat[3, 1], flat[3, c - 1] = float("inf"), float("nan"), float("-inf")
        flat[4, :] = float("nan")
    return flat.reshape(x.shape).movedim(-1, dim).contiguous()


def red_dim(t: Task) -> int:
    return {"18_max_dim": 1, "19_min_dim": 2, "20_argmax": 1, "21_argmin": 2}.get(t.name, -1)


def check(t: Task, src: str, device: str = "cpu") -> None:
    mod = t.load_module()
    ref = mod.Model(*mod.get_init_inputs()).to(device)
    cand = exec_module(src, f"nan_{t.name}").ModelNew(*mod.get_init_inputs()).to(device)
    torch.manual_seed(0)
    xs = [poison(x, red_dim(t)).to(device) for x in mod.get_inputs()]
    with torch.no_grad():
        want, got = ref(*xs), cand(*xs)
    want_t: Any = want if isinstance(want, tuple) else (want,)
    got_t: Any = got if isinstance(got, tuple) else (got,)
    for g, w in zip(got_t, want_t, strict=True):
        assert bool(torch.isnan(w).any()) or w.dtype == torch.int64  # the case is exercised
        torch.testing.assert_close(g, w, equal_nan=True, atol=1e-5, rtol=1e-5)


def sources(t: Task) -> list[tuple[str, str]]:
    return [(mode, src) for _, mode, src in mode_sources(t)]


@pytest.mark.parametrize("name", NAMES)
def test_max_min_and_arg_keep_nan_in_every_mode(name: str) -> None:
    t = load_task(str(PROBLEMS / f"{name}.py"))
    srcs = sources(t)
    assert {"single", "loop", "persistent"} <= {m for m, _ in srcs}
    for mode, src in srcs:
        try:
            check(t, src)
        except AssertionError as e:
            raise AssertionError(f"{name} mode {mode}: {e}") from e


VALUES_AND_INDICES = dict(
    consts="rows = 7\ncols = 45",
    args="x",
    body="torch.max(x, dim=-1)",
    inputs="torch.randn(rows, cols)",
)


def test_max_with_indices_and_split_rows(tmp_path: Path) -> None:
    """``torch.max(x, dim)``'s values and indices from one group; the values' split-row
    mode (partials combined by the NaN-keeping reduce) where the space offers it."""
    t = problem_task(tmp_path, "max_vi", **VALUES_AND_INDICES)
    for mode, src in sources(t):
        try:
            check(t, src)
        except AssertionError as e:
            raise AssertionError(f"max_vi mode {mode}: {e}") from e
    amax = problem_task(tmp_path, "amax_split", consts="rows = 5\ncols = 300", args="x",
                        body="torch.amax(x, dim=-1) * 2.0", inputs="torch.randn(rows, cols)")  # fmt: skip
    split = dict(sources(amax))
    assert "split" in split and "tl.reduce(part0, 1, _max_nan" in split["split"]
    check(amax, split["split"])


def test_a_softmax_shift_stays_a_plain_max(tmp_path: Path) -> None:
    t = problem_task(tmp_path, "sm_nan", consts="rows = 6\ncols = 50", args="x",
                     body="torch.softmax(x, dim=-1)", inputs="torch.randn(rows, cols)")  # fmt: skip
    plan = plan_for(t)
    group = plan.part.groups[reduction_groups(plan)[0]]
    assert not keeps_nan(group) and any(n.name.startswith("amax") for n in group.members)
    for mode, src in sources(t):
        assert "_max_nan" not in src, mode
        check(t, src)


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_nan_on_the_gpu(name: str) -> None:
    """Compiled kernels (not the interpreter, whose numpy max keeps NaN anyway), at the
    small size in every mode and at an odd larger size from the start."""
    assert os.environ.get("TRITON_INTERPRET") != "1"
    t = load_task(str(PROBLEMS / f"{name}.py"))
    for mode, src in sources(t):
        try:
            check(t, src, "cuda")
        except AssertionError as e:
            raise AssertionError(f"{name} mode {mode}: {e}") from e
    big = load_task(str(PROBLEMS / f"{name}.py"), size="batch_size=3,dim1=1031,dim2=517")
    check(big, render_plan(plan_for(big), plan_for(big).initial()), "cuda")


# every activation the issue lists and a few more: NaN in, NaN out where torch gives NaN
ACTIVATIONS = [
    "torch.relu(x)", "F.leaky_relu(x, 0.1)", "F.threshold(x, 0.5, -2.0)", "F.hardtanh(x)",
    "F.elu(x)", "F.selu(x)", "F.celu(x)", "F.softplus(x)", "F.mish(x)", "F.gelu(x)",
    "F.gelu(x, approximate='tanh')", "F.silu(x)", "F.hardswish(x)", "F.hardsigmoid(x)",
    "torch.sigmoid(x)", "torch.tanh(x)", "torch.clamp(x, -0.5, 0.5)", "F.relu6(x)",
    "torch.maximum(x, x * 0.5)", "torch.minimum(x, 0.25 - x)", "torch.abs(x) * x",
    "F.hardshrink(x)", "F.softshrink(x)", "torch.log1p(x.abs())", "torch.expm1(x)",
]
# +-inf too where torch's CPU kernels agree with the math (its erf gelu gives NaN at inf)
WITH_INF = {"torch.relu(x)", "F.leaky_relu(x, 0.1)", "F.threshold(x, 0.5, -2.0)",
            "F.hardtanh(x)", "torch.clamp(x, -0.5, 0.5)", "torch.sigmoid(x)", "torch.tanh(x)",
            "F.relu6(x)", "torch.maximum(x, x * 0.5)"}  # fmt: skip


@pytest.mark.parametrize("body", ACTIVATIONS)
def test_pointwise_ops_keep_nan(tmp_path: Path, body: str) -> None:
    t = problem_task(tmp_path, "act", consts="n = 12", args="x", body=body,
                     inputs="torch.randn(n)")  # fmt: skip
    plan = plan_for(t)
    cand = exec_module(render_plan(plan, plan.initial()), "nan_act").ModelNew()
    ref = t.load_module().Model()
    vals = [float("nan"), 0.0, -0.0, 1.0, -1.0, 0.3, -3.5, 0.5, 50.0, -50.0, 1e-30, float("nan")]
    if body in WITH_INF:
        vals[1], vals[2] = float("inf"), float("-inf")
    x = torch.tensor(vals)
    with torch.no_grad():
        want, got = ref(x), cand(x)
    assert bool(torch.isnan(want[0]))
    torch.testing.assert_close(got, want, equal_nan=True, atol=1e-5, rtol=1e-4)


def test_two_groups_share_one_written_helper(tmp_path: Path) -> None:
    """A max over one axis and a min over the other are two kernels of one module: the
    NaN-keeping helpers are written once, and both results keep a NaN."""
    t = problem_task(tmp_path, "two_groups", consts="rows = 6\ncols = 9", args="x",
                     body="(x.amax(dim=1), x.amin(dim=0))", inputs="torch.randn(rows, cols)")  # fmt: skip
    plan = plan_for(t)
    assert plan.templates == ("reduction", "reduction")
    src = render_plan(plan, plan.initial())
    assert src.count("def _max_nan(") == 1 and src.count("def _min_nan(") == 1
    cand = exec_module(src, "nan_two").ModelNew()
    x = torch.randn(6, 9)
    x[2, 4] = float("nan")
    want, got = t.load_module().Model()(x), cand(x)
    for g, w in zip(got, want, strict=True):
        assert bool(torch.isnan(w).any())
        torch.testing.assert_close(g, w, equal_nan=True)


# the online sum of exp(x - max) (softmax, logsumexp, cross-entropy) on rows torch treats
# specially: logsumexp shifts by a max made finite (-inf for a row of -inf, inf for a row
# with +inf); softmax and cross-entropy shift by the max itself (NaN there)
ONLINE = {
    "lse_inf": ("x", "torch.logsumexp(x, dim=-1)"),
    "softmax_inf": ("x", "torch.softmax(x, dim=-1)"),
    "log_softmax_inf": ("x", "torch.log_softmax(x, dim=-1)"),
    "ce_inf": ("x, t", "F.cross_entropy(x, t, reduction='none')"),
}


def infinite_rows(rows: int, cols: int) -> torch.Tensor:
    """Row 0 all -inf; 1 -inf up to the last chunk; 2 one +inf; 3 +inf and -inf; 4 a NaN;
    5 values near 80 (exp of an unshifted value overflows fp32); the rest plain."""
    torch.manual_seed(0)
    x = torch.randn(rows, cols)
    x[0] = float("-inf")
    x[1, : cols - 5] = float("-inf")
    x[2, cols // 2] = float("inf")
    x[3, 1], x[3, cols - 2] = float("inf"), float("-inf")
    x[4, cols // 3] = float("nan")
    x[5] += 80.0
    return x


def check_infinities(name: str, tmp_path: Path, device: str = "cpu") -> int:
    args, body = ONLINE[name]
    inputs = "torch.randn(rows, cols)" + (", torch.randint(0, cols, (rows,))" if "t" in args else "")
    t = problem_task(tmp_path, name, consts="rows = 8\ncols = 70", args=args, body=body,
                     inputs=inputs)  # fmt: skip
    x = infinite_rows(8, 70).to(device)
    xs = [x] if args == "x" else [x, torch.tensor([0, 68, 35, 1, 3, 9, 2, 4]).to(device)]
    want = t.load_module().Model()(*xs)
    seen = 0
    for mode, src in sources(t):
        got = exec_module(src, f"inf_{name}").ModelNew()(*xs)
        for r in range(8):  # row by row: one row's NaN says nothing of the others
            try:
                torch.testing.assert_close(got[r], want[r], equal_nan=True, atol=1e-5, rtol=1e-5)
            except AssertionError as e:
                raise AssertionError(f"{name} mode {mode} row {r}: {e}") from e
        seen += mode == "online"
    return seen


@pytest.mark.parametrize("name", sorted(ONLINE))
def test_online_sums_keep_torchs_infinities(name: str, tmp_path: Path) -> None:
    assert check_infinities(name, tmp_path) == 1  # the online mode was among those checked


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(ONLINE))
def test_online_infinities_on_the_gpu(name: str, tmp_path: Path) -> None:
    assert os.environ.get("TRITON_INTERPRET") != "1"
    assert check_infinities(name, tmp_path, "cuda") == 1
