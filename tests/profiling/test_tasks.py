"""Tasks: KernelBench files as published load, are sized, and resolve their constants once."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiling.constants import resolve
from profiling.tasks import Task, TaskError, apply_overrides, load_task, parse_python

KB = Path(__file__).parent / "fixtures" / "kernelbench"


def kb(name: str, size: str | None = None) -> Task:
    return load_task(str(KB / f"{name}.py"), size)


def test_expressions_chains_and_tuples_resolve_in_file_order():
    c = kb("conv_bias").constants
    assert c["height"] == c["width"] == 32
    assert c["bias_shape"] == (16, 1, 1)
    c = kb("scaled_sum").constants
    assert c["batch_size"] == 16384 and c["N"] == 4096
    assert c["input_shape"] == (4096,)
    assert (c["rows"], c["cols"]) == (4096, 4096)
    assert "torch" not in c and "Model" not in c


def test_overriding_a_base_constant_re_derives_its_dependents():
    t = kb("conv_bias", "out_channels=8,width=16")
    assert t.constants["bias_shape"] == (8, 1, 1)
    assert (t.constants["height"], t.constants["width"]) == (32, 16)
    mod = t.load_module()
    assert mod.bias_shape == (8, 1, 1) and (mod.height, mod.width) == (32, 16)
    s = kb("scaled_sum", "N=64,batch_size=8")
    assert s.constants["input_shape"] == (64,) and s.constants["rows"] == 2
    x = s.load_module().get_inputs()[0]
    assert tuple(x.shape) == (8, 64)


def test_tuple_and_unpacked_overrides():
    t = kb("scaled_sum", "input_shape=(32,),rows=3")
    assert t.constants["input_shape"] == (32,) and t.constants["rows"] == 3
    assert t.constants["cols"] == 4096  # the other half of the unpacking keeps its value
    assert tuple(t.load_module().get_inputs()[0].shape) == (16384, 32)


def test_the_module_source_is_computed_once():
    t = kb("conv_bias", "batch_size=2")
    assert t.module_source() is t.module_source()
    assert t.with_size("batch_size=4").constants["batch_size"] == 4
    assert Task.from_dict(t.to_dict()).constants == t.constants


def test_unknown_names_and_bad_values_are_task_errors():
    with pytest.raises(TaskError, match="unknown size constant 'channels'"):
        kb("conv_bias", "channels=3")
    with pytest.raises(TaskError, match="tuple"):
        kb("scaled_sum", "input_shape=(32,")
    with pytest.raises(TaskError, match="no module-level constant named zz"):
        apply_overrides("a = 1\n", {"zz": 2})


def test_what_is_not_a_constant_is_left_alone():
    tree = parse_python("import torch\nx = torch.randn(3)\nn = 4\nn = len('ab')\nk = 2 ** 10**9\nm = n * 2\n")
    assert resolve(tree) == {}  # n re-bound to a call; m depends on it; k too large


def test_empty_source_is_a_task_without_constants():
    t = Task(name="fake", path="fake.py", source="", kind="softmax")
    assert t.constants == {} and t.module_source() == ""


def test_profiling_knows_no_tasks_folder_of_its_own(tmp_path):
    """The bundled tasks' folder is the caller's (experiments.TASKS_DIR): a bare name
    without one is a one-line error, a path always works, a given folder is searched."""
    import profiling.tasks as tasks_mod
    from experiments import TASKS_DIR
    from profiling.tasks import TaskError, bundled_task_names, load_task

    assert not hasattr(tasks_mod, "BUNDLED_TASKS_DIR")
    with pytest.raises(TaskError, match="bare name and no tasks folder") as e:
        load_task("softmax")
    assert "\n" not in str(e.value)
    assert load_task(str(TASKS_DIR / "softmax.py")).name == "softmax"
    assert load_task("softmax", None, TASKS_DIR).name == "softmax"
    (tmp_path / "mine.py").write_text((TASKS_DIR / "softmax.py").read_text())
    assert bundled_task_names(tmp_path) == ["mine"]
    with pytest.raises(TaskError, match=r"unknown task 'softmax' \(bundled tasks: mine\)"):
        load_task("softmax", None, tmp_path)


def test_an_analysed_flop_count_travels_with_the_task_and_belongs_to_its_size():
    from dataclasses import replace

    task = kb("conv_bias")
    assert "analysed_flops" not in task.to_dict()  # a task without one serializes as before
    counted = replace(task, analysed_flops=12345)
    again = Task.from_dict(counted.to_dict())  # what the worker receives
    assert again.analysed_flops == 12345 and again == counted
    assert counted.with_size(None).analysed_flops is None  # another size: not counted
