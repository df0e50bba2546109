import torch

from profiling.input_probes import (
    ODD_CAP,
    odd_size_specs,
    offset_clone,
    output_finite,
    probe_inputs,
    reference_allows,
)
from profiling.memory import tensor_bytes


def test_probe_inputs_redraw_floats_only_and_respect_the_domain():
    x, idx = torch.rand(4, 8), torch.arange(4)
    signed = probe_inputs([x, idx, 3], "signed", "any", 0)
    assert signed[1] is idx and signed[2] == 3
    assert (signed[0] < 0).any() and signed[0].shape == x.shape and signed[0].dtype == x.dtype
    wide = probe_inputs([x], "wide", "positive", 0)[0]
    assert (wide > 0).all() and wide.abs().max() > 1e4
    assert probe_inputs([x], "signed", "task", 0) is None
    assert probe_inputs([idx], "signed", "any", 0) is None


def test_reference_allowing_a_probe():
    finite = output_finite(torch.ones(3))
    assert reference_allows(torch.ones(3), finite)
    assert not reference_allows(torch.tensor([1.0, float("nan")]), finite)
    # NaN already on the task's own inputs: the probe may have them too
    assert reference_allows(
        torch.tensor([float("nan")]), output_finite(torch.tensor([float("nan")]))
    )


def test_odd_size_specs():
    specs = odd_size_specs({"BATCH": 4096, "DIM": 393216, "EPS": 1e-5, "FLAG": True}, {})
    assert specs[0] == f"BATCH={ODD_CAP},DIM={ODD_CAP}"
    assert specs[1:] == [f"BATCH={ODD_CAP}", f"DIM={ODD_CAP}"]
    assert odd_size_specs({"BATCH": 4, "DIM": 32}, {"BATCH": 4, "DIM": 32})[0] == "BATCH=3,DIM=31"
    assert odd_size_specs({"N": 7, "EPS": 0.1}, {}) == []


def test_offset_clone_moves_the_address_on_odd_trials():
    x = torch.randn(16, 16)
    a, b = offset_clone([x], 0)[0], offset_clone([x], 1)[0]
    assert torch.equal(a, x) and torch.equal(b, x) and b.is_contiguous()
    assert b.data_ptr() != b.untyped_storage().data_ptr()


def test_tensor_bytes_counts_distinct_storages():
    assert tensor_bytes([torch.empty(10), [torch.empty(5, dtype=torch.float64)]]) == 80
