"""The bundled dense tasks: gelu, swiglu, transpose, matmul, matmul_bias_gelu."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import yaml

from experiments import TASKS_DIR
from profiling.tasks import PROJECT_ROOT, constants, load_task

DENSE = ("gelu", "swiglu", "transpose", "matmul", "matmul_bias_gelu")


def _run_reference(kind: str, size: str | None = "smoke"):
    task = load_task(kind, size, tasks_dir=TASKS_DIR)
    mod = task.load_module()
    torch.manual_seed(0)
    inputs = mod.get_inputs()
    model = mod.Model(*mod.get_init_inputs())
    with torch.no_grad():
        return task, mod, model, inputs, model(*inputs)


@pytest.mark.parametrize("kind", DENSE)
def test_task_loads_and_reference_runs(kind: str) -> None:
    task, mod, _, inputs, out = _run_reference(kind)
    assert task.kind == kind and task.size == "smoke"
    assert torch.isfinite(out).all()
    assert all(t.dtype == torch.float32 for t in inputs), "smoke runs in fp32 (interpreter)"
    # smoke sizes are small and not all powers of two, so kernels' masks are exercised
    smoke = task.presets["smoke"]
    dims = [v for k, v in smoke.items() if isinstance(v, int)]
    assert max(dims) <= 512 and any(d & (d - 1) for d in dims)
    assert mod.get_flops() >= 0


@pytest.mark.parametrize("kind", DENSE)
def test_conf_task_file(kind: str) -> None:
    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "task" / f"{kind}.yaml").read_text())
    assert conf == {"name": kind, "size": None}


def test_elementwise_references_match_their_formulas() -> None:
    _, _, _, (x,), y = _run_reference("gelu")
    assert torch.allclose(y, 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0))), atol=1e-6)
    _, _, _, (gate, up), y = _run_reference("swiglu")
    assert torch.allclose(y, gate / (1 + torch.exp(-gate)) * up, atol=1e-6)
    _, _, _, (x,), y = _run_reference("transpose")
    assert y.shape == (x.shape[1], x.shape[0]) and y.is_contiguous() and torch.equal(y, x.t())


def test_matmul_references() -> None:
    _, mod, _, (a, b), c = _run_reference("matmul")
    assert c.shape == (a.shape[0], b.shape[1])
    assert mod.get_flops() == 2 * a.shape[0] * a.shape[1] * b.shape[1]
    _, mod, model, (x,), y = _run_reference("matmul_bias_gelu")
    w, bias = model.linear.weight, model.linear.bias
    assert torch.allclose(y, F.gelu(x @ w.t() + bias), atol=1e-5)
    assert mod.get_init_inputs() == [x.shape[1], w.shape[0], "float32"]


def test_default_sizes_are_llm_shapes() -> None:
    gelu = constants(load_task("gelu", tasks_dir=TASKS_DIR).source)
    assert (gelu["batch_size"], gelu["dim"], gelu["DTYPE"]) == (8192, 11008, "float32")
    swiglu = constants(load_task("swiglu", tasks_dir=TASKS_DIR).source)
    assert (swiglu["batch_size"], swiglu["dim"]) == (8192, 11008)
    tr = constants(load_task("transpose", tasks_dir=TASKS_DIR).source)
    assert (tr["rows"], tr["cols"]) == (8192, 8192)
    mm = constants(load_task("matmul", tasks_dir=TASKS_DIR).source)
    assert (mm["M"], mm["K"], mm["N"], mm["DTYPE"]) == (8192, 4096, 4096, "bfloat16")
    mbg = constants(load_task("matmul_bias_gelu", tasks_dir=TASKS_DIR).source)
    assert (mbg["batch_size"], mbg["in_features"], mbg["out_features"]) == (8192, 4096, 11008)
    assert mbg["DTYPE"] == "bfloat16"


def test_matmul_bias_gelu_parameters_follow_dtype() -> None:
    task = load_task("matmul_bias_gelu", "smoke,DTYPE=bfloat16", tasks_dir=TASKS_DIR)
    mod = task.load_module()
    model = mod.Model(*mod.get_init_inputs())
    assert model.linear.weight.dtype == torch.bfloat16
    (x,) = mod.get_inputs()
    assert model(x).dtype == torch.bfloat16
