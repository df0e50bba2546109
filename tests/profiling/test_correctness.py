import pytest
import torch

from profiling.correctness import (
    TOLERANCES,
    compare_outputs,
    find_mutation,
    relative_error,
    tolerance_for,
)

FP32 = TOLERANCES[torch.float32]
BF16 = TOLERANCES[torch.bfloat16]


def _ref(*shape, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(*shape, generator=g).to(dtype)


def test_exact_and_rounding_level_errors_pass():
    ref = _ref(64, 64)
    assert compare_outputs(ref.clone(), ref, FP32).ok
    noisy = ref * (1 + 1e-7 * torch.randn_like(ref))
    c = compare_outputs(noisy, ref, FP32)
    assert c.ok and c.rel_error < 1e-6


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (lambda r: torch.zeros_like(r), "outside tolerance"),
        (lambda r: r * 1.01, "outside tolerance"),
        (lambda r: r[:, :-1], "expected tensor(64, 64)"),
        (lambda r: r.double(), "float64"),
        (lambda r: (r, r), "tuple of 2"),
        (lambda r: r.numpy(), "ndarray"),
    ],
)
def test_wrong_outputs_fail(bad, fragment):
    ref = _ref(64, 64)
    c = compare_outputs(bad(ref), ref, FP32)
    assert not c.ok
    assert fragment in c.error


def test_single_wrong_element_fails_even_if_norm_is_small():
    ref = _ref(256, 256)
    out = ref.clone()
    out[3, 7] += 1.0
    c = compare_outputs(out, ref, tolerance_for(torch.float32, tf32_error=1e-3))
    assert not c.ok and "[3, 7]" in c.error


def test_nan_and_inf_never_pass_unless_the_reference_has_them():
    ref = _ref(8, 8)
    out = ref.clone()
    out[0, 0] = float("nan")
    assert "NaN/Inf" in compare_outputs(out, ref, FP32).error
    out[0, 0] = float("inf")
    assert not compare_outputs(out, ref, FP32).ok
    ref2 = ref.clone()
    ref2[0, 0] = float("inf")
    assert compare_outputs(out, ref2, FP32).ok  # same inf at the same place
    ref2[0, 0] = float("-inf")
    assert not compare_outputs(out, ref2, FP32).ok


def test_tuple_outputs_compare_elementwise():
    a, b = _ref(4, 5), _ref(4)
    assert compare_outputs((a.clone(), b.clone()), (a, b), FP32).ok
    c = compare_outputs((a.clone(), b * 2), (a, b), FP32)
    assert not c.ok and "output[1]" in c.error
    assert not compare_outputs([a.clone()], (a, b), FP32).ok


def test_integer_outputs_must_match_exactly():
    ref = torch.arange(10)
    assert compare_outputs(ref.clone(), ref, FP32).ok
    out = ref.clone()
    out[2] = 0
    assert not compare_outputs(out, ref, FP32).ok


def test_tensor_subclass_is_rejected():
    class Sneaky(torch.Tensor):
        pass

    ref = _ref(4, 4)
    assert not compare_outputs(ref.clone().as_subclass(Sneaky), ref, FP32).ok


def test_bf16_tolerance_admits_one_rounding_but_not_garbage():
    x = _ref(128, 128)
    ref = x.to(torch.bfloat16)
    honest = (x * (1 + 1e-3)).to(torch.bfloat16)  # within an ulp or two
    assert compare_outputs(honest, ref, BF16).ok
    assert not compare_outputs(torch.zeros_like(ref), ref, BF16).ok
    assert not compare_outputs(ref * 1.1, ref, BF16).ok


def test_tf32_tolerance_admits_tf32_matmul_and_rejects_zeros():
    a, b = _ref(128, 256), _ref(256, 64)
    ref = a @ b

    def tf32(t):  # round to 10 mantissa bits, like TF32 inputs
        i = t.view(torch.int32)
        return ((i + 0x1000) & ~0x1FFF).view(torch.float32)

    out = tf32(a) @ tf32(b)
    err = relative_error(out, ref)
    assert 1e-5 < err < 2e-3
    assert not compare_outputs(out, ref, FP32).ok  # strict fp32 refuses TF32 ...
    tol = tolerance_for(torch.float32, tf32_error=err)
    assert compare_outputs(out, ref, tol).ok  # ... the TF32 tolerance admits it
    assert not compare_outputs(torch.zeros_like(ref), ref, tol).ok
    assert not compare_outputs(ref + 0.05 * ref.abs().mean() * torch.randn_like(ref), ref, tol).ok
    # precision policy: a bf16 matmul (7 stored mantissa bits) stays out of the TF32 tolerance
    bf16 = a.bfloat16().float() @ b.bfloat16().float()
    c = compare_outputs(bf16, ref, tol)
    assert not c.ok and c.rel_error > 4 * err


def test_large_outputs_are_compared_in_chunks(monkeypatch):
    import profiling.correctness as corr

    monkeypatch.setattr(corr, "CHUNK", 1000)
    ref = _ref(70, 90)
    assert compare_outputs(ref.clone(), ref, FP32).ok
    out = ref.clone()
    out[69, 89] += 1.0  # in the last, partial chunk
    c = compare_outputs(out, ref, FP32)
    assert not c.ok and "[69, 89]" in c.error
    exact = float((out.double() - ref.double()).norm() / ref.double().norm())
    assert abs(relative_error(out, ref) - exact) < 1e-12


def test_chunk_temporaries_fit_the_fixed_allowance():
    """A chunk's float64 temporaries (~64 bytes an element) stay within the evaluation's
    fixed allowance whatever the output: the timed checks fit the 3 (I + O) budget."""
    from profiling.correctness import CHUNK
    from profiling.memory import FIXED_ALLOWANCE

    assert 64 * CHUNK <= FIXED_ALLOWANCE


def test_tolerance_for_keeps_strict_fp32_without_tf32_sensitivity():
    assert tolerance_for(torch.float32, None) == FP32
    assert tolerance_for(torch.float32, 0.0) == FP32
    assert tolerance_for(torch.bfloat16, 1e-2) == BF16
    assert tolerance_for(torch.float32, 1.0).relnorm <= 5e-2  # capped: garbage never passes


def test_find_mutation():
    x = _ref(4, 4)
    assert find_mutation([x.clone(), 3], [x, 3]) is None
    y = x.clone()
    y[0, 0] += 1
    assert "input 0" in find_mutation([y], [x])


def test_tensors_equal_and_all_finite_scan_in_chunks(monkeypatch):
    """The mutation check and the finiteness probe compare chunk by chunk (no whole-tensor
    mask): right on a difference or a NaN in the last, partial chunk; NaN equals NaN."""
    import profiling.correctness as corr
    from profiling.correctness import all_finite, tensors_equal

    monkeypatch.setattr(corr, "CHUNK", 1000)
    a = torch.arange(2500, dtype=torch.float32)
    b = a.clone()
    assert tensors_equal(a, b)
    b[2499] += 1  # last, partial chunk
    assert not tensors_equal(a, b)
    a[10] = b[10] = float("nan")
    b[2499] -= 1
    assert tensors_equal(a, b)
    assert not tensors_equal(a, b.double()) and not tensors_equal(a, b[:-1])
    assert tensors_equal(torch.arange(2500), torch.arange(2500))
    assert not tensors_equal(torch.arange(2500), torch.arange(1, 2501))
    assert all_finite(torch.ones(2500)) and all_finite(torch.arange(3))
    x = torch.ones(2500)
    x[2400] = float("inf")
    assert not all_finite(x)
    x[2400] = float("nan")
    assert not all_finite(x)
