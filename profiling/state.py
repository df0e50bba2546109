"""What a worker keeps between evaluations, and small helpers for the runner."""

from __future__ import annotations

import random
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from profiling import timing
from profiling.guards import NamespaceGuard
from profiling.hardware import GpuFacts
from profiling.measurement import DEFAULT_HOLD_US
from profiling.tasks import Task, exec_module


@dataclass(frozen=True)
class RunSettings:
    trials: int = 5
    baseline_compile: bool = False
    warmup_ms: float = 25.0
    rep_ms: float = 100.0
    check_floor: bool = True
    probes: bool = True  # signed/wide-range inputs, odd size, a trial after timing
    # with probes: None runs the input probes on every candidate, before its timing; a
    # number runs them after the timing, only when the candidate's speedup beats it
    probe_bar: float | None = None
    hold_us: float = DEFAULT_HOLD_US  # device time queued before each timed call's start event
    cpu_limit_s: float = 0.0  # CPU seconds one evaluation may use (0: no limit)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSettings:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class BackendFlags:
    """The numerics flags the reference runs under (TF32 off), applied per call."""

    def __init__(self) -> None:
        self.cuda = torch.cuda.is_available()
        self.ref = self.read()
        if self.cuda:
            self.ref.update(matmul_tf32=False, cudnn_tf32=False, precision="highest")

    def read(self) -> dict[str, Any]:
        b = torch.backends
        return {
            "matmul_tf32": b.cuda.matmul.allow_tf32,
            "cudnn_tf32": b.cudnn.allow_tf32,
            "cudnn_enabled": b.cudnn.enabled,
            "cudnn_benchmark": b.cudnn.benchmark,
            "cudnn_deterministic": b.cudnn.deterministic,
            "fp16_reduced": b.cuda.matmul.allow_fp16_reduced_precision_reduction,
            "bf16_reduced": b.cuda.matmul.allow_bf16_reduced_precision_reduction,
            "precision": torch.get_float32_matmul_precision(),
            "threads": torch.get_num_threads(),
        }

    def write(self, f: Mapping[str, Any]) -> None:
        b = torch.backends
        if b.cuda.matmul.allow_tf32 != f["matmul_tf32"]:
            b.cuda.matmul.allow_tf32 = f["matmul_tf32"]
        b.cudnn.allow_tf32 = f["cudnn_tf32"]
        b.cudnn.enabled = f["cudnn_enabled"]
        b.cudnn.benchmark = f["cudnn_benchmark"]
        b.cudnn.deterministic = f["cudnn_deterministic"]
        b.cuda.matmul.allow_fp16_reduced_precision_reduction = f["fp16_reduced"]
        b.cuda.matmul.allow_bf16_reduced_precision_reduction = f["bf16_reduced"]
        if torch.get_float32_matmul_precision() != f["precision"]:
            torch.set_float32_matmul_precision(f["precision"])
        if torch.get_num_threads() != f["threads"]:
            torch.set_num_threads(f["threads"])

    def enter_ref(self, **changes: Any) -> dict[str, Any]:
        saved = self.read()
        self.write({**self.ref, **changes})
        return saved


@dataclass
class WorkerState:
    """What a worker keeps between evaluations."""

    device: str  # "cuda" | "interpret"
    facts: GpuFacts
    guard: NamespaceGuard
    flags: BackendFlags
    task_modules: dict[str, types.ModuleType] = field(default_factory=dict)
    compiled: dict[str, Any] = field(default_factory=dict)
    flusher: timing.L2Flusher | None = None
    holder: timing.GpuHold | None = None  # made at the first evaluation with a hold

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    @property
    def torch_device(self) -> torch.device:
        return torch.device("cuda") if self.cuda else torch.device("cpu")

    def task_module(self, task: Task) -> types.ModuleType:
        src = task.module_source()
        mod = self.task_modules.get(src)
        if mod is None:
            if len(self.task_modules) > 16:
                self.task_modules.clear()
            mod = exec_module(src, f"kb_task_{task.name}", task.path)
            self.task_modules[src] = mod
        return mod


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    try:
        import numpy

        numpy.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass


def listify(x: Any) -> list[Any]:
    if isinstance(x, list | tuple):
        return list(x)
    return [x]


def to_device(x: Any, dev: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(dev)
    if isinstance(x, list | tuple):
        return type(x)(to_device(v, dev) for v in x)
    return x


def clone_all(xs: Sequence[Any]) -> list[Any]:
    return [x.clone() if isinstance(x, torch.Tensor) else x for x in xs]


def cuda_healthy() -> bool:
    try:
        torch.zeros(1, device="cuda").add_(1).item()
        timing._synchronize()
        return True
    except Exception:
        return False


def copy_matching_state(ref: torch.nn.Module, new: torch.nn.Module) -> None:
    """KernelBench convention: ModelNew starts from the reference's weights where names/shapes match."""
    ref_sd = ref.state_dict()
    new_sd = new.state_dict()
    matching = {
        k: v for k, v in ref_sd.items() if k in new_sd and tuple(new_sd[k].shape) == tuple(v.shape)
    }
    if matching:
        new.load_state_dict(matching, strict=False)
