"""The bundled row-wise tasks: KernelBench format, presets, references, Hydra configs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import yaml

from experiments import TASKS_DIR
from profiling.tasks import PROJECT_ROOT, constants, load_task

ROWWISE = ("softmax", "logsumexp", "cross_entropy", "layernorm", "rmsnorm", "residual_add_rmsnorm")

# the realistic default shapes: (rows, row length)
DEFAULT_SHAPES = {
    "softmax": (4096, 16384),
    "logsumexp": (4096, 32000),
    "cross_entropy": (4096, 32000),
    "layernorm": (8192, 4096),
    "rmsnorm": (8192, 4096),
    "residual_add_rmsnorm": (8192, 4096),
}


def _run(kind: str, size: str = "smoke") -> tuple[object, list[torch.Tensor], object]:
    mod = load_task(kind, size, tasks_dir=TASKS_DIR).load_module()
    torch.manual_seed(0)
    model = mod.Model(*mod.get_init_inputs())
    inputs = mod.get_inputs()
    with torch.no_grad():
        return model, inputs, model(*inputs)


@pytest.mark.parametrize("kind", ROWWISE)
def test_task_metadata(kind: str) -> None:
    task = load_task(kind, tasks_dir=TASKS_DIR)
    assert task.kind == kind and task.name == kind
    consts = constants(task.source)
    assert consts["DTYPE"] == "float32"
    dim_name = "num_classes" if kind == "cross_entropy" else "dim"
    assert (consts["batch_size"], consts[dim_name]) == DEFAULT_SHAPES[kind]
    smoke = task.presets["smoke"]
    # smoke rows and row length are not powers of two, to exercise masks
    for v in (smoke["batch_size"], smoke[dim_name]):
        assert v & (v - 1) != 0
    mod = load_task(kind, "smoke", tasks_dir=TASKS_DIR).load_module()
    flops = mod.get_flops()
    assert isinstance(flops, int) and flops > 0


@pytest.mark.parametrize("kind", ROWWISE)
def test_reference_runs_at_smoke(kind: str) -> None:
    _model, inputs, out = _run(kind)
    assert all(x.dtype in (torch.float32, torch.int64) for x in inputs)
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        assert o.dtype == torch.float32 and torch.isfinite(o).all()


def test_reference_semantics() -> None:
    _, (x,), y = _run("softmax")
    assert y.shape == x.shape and torch.allclose(y.sum(-1), torch.ones(x.shape[0]))
    _, (x,), y = _run("logsumexp")
    assert y.shape == x.shape[:1] and torch.allclose(y, torch.log(torch.exp(x).sum(-1)))
    _, (logits, t), loss = _run("cross_entropy")
    assert loss.shape == () and t.dtype == torch.int64
    manual = (torch.logsumexp(logits, -1) - logits.gather(1, t[:, None])[:, 0]).mean()
    assert torch.allclose(loss, manual)
    model, (x,), y = _run("layernorm")
    ln = F.layer_norm(x, x.shape[-1:], model.weight, model.bias, eps=1e-5)
    assert torch.allclose(y, ln, atol=1e-5)
    assert not torch.allclose(model.weight, torch.ones_like(model.weight))
    model, (x,), y = _run("rmsnorm")
    assert torch.allclose(y, x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * model.weight)
    model, (x, r), out = _run("residual_add_rmsnorm")
    assert isinstance(out, tuple) and len(out) == 2
    y, h = out
    assert torch.equal(h, x + r)
    assert torch.allclose(y, h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * model.weight)


def test_norm_parameters_are_named_and_seeded() -> None:
    for kind, names in (
        ("layernorm", {"weight", "bias"}),
        ("rmsnorm", {"weight"}),
        ("residual_add_rmsnorm", {"weight"}),
    ):
        mod = load_task(kind, "smoke", tasks_dir=TASKS_DIR).load_module()
        torch.manual_seed(3)
        a = mod.Model(*mod.get_init_inputs())
        torch.manual_seed(3)
        b = mod.Model(*mod.get_init_inputs())
        assert set(dict(a.named_parameters())) == names
        for n in names:
            assert torch.equal(getattr(a, n), getattr(b, n))


def test_sizes_override() -> None:
    task = load_task("softmax", "batch_size=3,dim=50", tasks_dir=TASKS_DIR)
    (x,) = task.load_module().get_inputs()
    assert x.shape == (3, 50)
    task = load_task("rmsnorm", "smoke,DTYPE=float64", tasks_dir=TASKS_DIR)
    (x,) = task.load_module().get_inputs()
    assert x.dtype == torch.float64 and x.shape == (6, 200)


@pytest.mark.parametrize("kind", ROWWISE)
def test_hydra_task_config(kind: str) -> None:
    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "task" / f"{kind}.yaml").read_text())
    assert conf == {"name": kind, "size": None}


@pytest.mark.parametrize("kind", ROWWISE)
def test_presets_load(kind: str) -> None:
    task = load_task(kind, tasks_dir=TASKS_DIR)
    for preset in task.presets:
        t = task.with_size(preset)
        assert t.size == preset and t.overrides
    # a realistic size: bytes moved in the hundreds of MB (well above the L2)
    rows, dim = DEFAULT_SHAPES[kind]
    assert rows * dim * 4 > 100 * 2**20 and math.log2(rows).is_integer()


# ---------------------------------------------------------------- experiments.bench_offline


class _FakeEvaluator:
    """Runtime from the kernel's parameters: evict-first streaming fast, more warps faster."""

    device = "interpret"

    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, task, source):  # type: ignore[no-untyped-def]
        from profiling.measurement import Measurement, ShapeResult, Status, Timing
        from strategies.graph.realizer import parse_params

        self.calls += 1
        (p,) = (parse_params(source) or {"groups": [{}]})["groups"]
        ms = 1.0 if p.get("evict") else 3.0
        ms /= 1 + 0.1 * p.get("num_warps", 4)
        t = Timing(ms, ms, ms, 1)
        return Measurement(Status.OK, shapes=(ShapeResult(task.size, t, Timing(2, 2, 2, 1)),))


def test_bench_hill_climb_with_fake_evaluator() -> None:
    from experiments.bench_offline import bench_task

    ev = _FakeEvaluator()
    rep = bench_task(load_task("rmsnorm", "smoke", tasks_dir=TASKS_DIR), ev, rounds=3, log=lambda _: None)
    assert rep.default.chain == () and len(rep.one_step) >= 5
    assert rep.best is not None and rep.best.chain[0].endswith("streaming_eviction")
    assert any(s.endswith("warps_up") for s in rep.best.chain[1:])
    assert rep.best.ms < rep.default.ms and rep.evaluations == ev.calls
    assert rep.nbytes == 2 * 6 * 200 * 4 + 200 * 4  # x in, y out, weight
