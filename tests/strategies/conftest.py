"""Shared fixtures for the strategies tests: a small task, a strategy, a candidate source."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.openai_realizer import OpenAIConfig

GOOD_SOURCE = '''\
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _softmax_kernel(x_ptr, y_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=-float("inf"))
    x = x - tl.max(x, axis=0)
    e = tl.exp(x)
    tl.store(y_ptr + row * n_cols + offs, e / tl.sum(e, axis=0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        y = torch.empty_like(x)
        _softmax_kernel[(x.shape[0],)](x, y, x.shape[1], BLOCK=triton.next_power_of_2(x.shape[1]))
        return y
'''


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def task():
    return load_task("softmax", size="smoke", tasks_dir=TASKS_DIR)


@pytest.fixture(scope="session")
def strategy(catalog):
    return catalog.get("tiling/rows_per_program")


def fake_config(url: str, tmp_path: Path, **kw) -> OpenAIConfig:
    """A config for the fake server: fast retries, distinct prices, no cache unless asked."""
    base = dict(
        base_url=url,
        model="fake-model",
        api_key_env=None,
        timeout_s=2.0,
        max_retries=3,
        backoff_s=0.001,
        backoff_max_s=0.01,
        price_input_per_mtok=3.0,
        price_output_per_mtok=15.0,
        cache="off",
        cache_dir=str(tmp_path / "llm-cache"),
    )
    base.update(kw)
    return OpenAIConfig(**base)
