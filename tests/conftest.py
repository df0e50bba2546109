"""Shared test setup: the interpreter is forced on before triton is imported."""

from __future__ import annotations

import os

import pytest

# Tests never need a GPU: Triton kernels run through the interpreter on the CPU.
# Set before anything imports triton; GPU-marked tests run on the device machine,
# where KB_TEST_GPU=1 leaves the real compiler in place.
if os.environ.get("KB_TEST_GPU") != "1":
    os.environ.setdefault("TRITON_INTERPRET", "1")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available() and os.environ.get("TRITON_INTERPRET") != "1":
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run with KB_TEST_GPU=1 on a GPU host)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
