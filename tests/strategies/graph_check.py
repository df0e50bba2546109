"""Helpers for the graph realizer tests: run a generated ModelNew against the reference."""

from __future__ import annotations

from typing import Any

import torch

from profiling.tasks import Task, exec_module


def assert_correct(task: Task, source: str, atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Build Model and ModelNew with the same weights, run both, compare every output."""
    mod = task.load_module()
    torch.manual_seed(0)
    ref = mod.Model(*mod.get_init_inputs())
    cand = exec_module(source, f"cand_{task.name}").ModelNew(*mod.get_init_inputs())
    cand.load_state_dict(ref.state_dict())
    torch.manual_seed(1)
    inputs = mod.get_inputs()
    with torch.no_grad():
        want = ref(*[x.clone() for x in inputs])
        got = cand(*[x.clone() for x in inputs])
    want_t: tuple[Any, ...] = want if isinstance(want, tuple) else (want,)
    got_t: tuple[Any, ...] = got if isinstance(got, tuple) else (got,)
    assert len(got_t) == len(want_t)
    for g, w in zip(got_t, want_t, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        torch.testing.assert_close(g, w, atol=atol, rtol=rtol)
