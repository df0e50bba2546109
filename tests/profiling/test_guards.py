import time

import torch
import torch.nn.functional as F

from profiling.guards import NamespaceGuard


def test_untouched_namespaces_pass():
    g = NamespaceGuard()
    torch.softmax(torch.randn(3, 3), dim=-1)
    assert g.changed() == []
    assert g.check() is None


def test_patched_timer_is_reported_first_and_restored():
    g = NamespaceGuard()
    real_pc, real_sm = time.perf_counter, F.softmax
    try:
        F.softmax = lambda *a, **k: None
        time.perf_counter = lambda: 0.0
        err = g.check()
        assert err is not None and "timer time.perf_counter" in err and "1 more" in err
        assert time.perf_counter is real_pc and F.softmax is real_sm  # put back
        assert g.check() is None
    finally:
        time.perf_counter, F.softmax = real_pc, real_sm


def test_patched_torch_method_is_reported():
    g = NamespaceGuard()
    real = torch.Tensor.__add__
    try:
        torch.Tensor.__add__ = lambda self, other: self
        assert "torch.Tensor.__add__" in g.check()
    finally:
        torch.Tensor.__add__ = real
