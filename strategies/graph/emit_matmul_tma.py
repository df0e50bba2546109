"""The matmul template's TMA variant (``tma`` = 1): operand tiles through tensor descriptors.

The Tensor Memory Accelerator (Hopper and later) copies a whole [rows, cols] tile of an
operand from global to shared memory and fills what lies past the tensor's edges with
zeros, so the K loop has no masks and no address arithmetic. The descriptors are built
at launch time on the host (``triton.tools.tensor_descriptor.TensorDescriptor``, part of
triton: no global allocator for device-side descriptor scratch is needed, and the kernel
does not spend the start of every program writing descriptors); the same
approach reached 727-755 TFLOP/s on an H200 for a bf16 GEMM.

A descriptor needs a unit stride on its last axis, 16-byte aligned strides and base,
and a GPU of compute capability 9 or more: `_tma_desc` (written into the generated
module) checks that per call and per operand, describing an operand whose rows are
the strided axis (``x @ w.t()``: W read as (N, K) tiles) by its transpose and
transposing the tile in registers (``A_T``/``B_T``, constexpr). Where either operand
cannot be described, the launch falls back to the pointer kernel of the same
parameters, so a kernel with ``tma`` is correct on any GPU and any strides. A bmm's
operands are 3-D descriptors with [1, rows, cols] tiles (one matrix of the batch).
Split-K's first kernel and the persistent loop read through descriptors the same way;
the epilogue (bias, activations, residuals) and the stores are the pointer kernel's.
"""

from __future__ import annotations

TMA_HELPER = '''from triton.tools.tensor_descriptor import TensorDescriptor

_TMA_CC = {}


def _tma_desc(t, rows, cols):
    """A TMA descriptor of t's [rows, cols] tiles over its last two axes ([1, rows, cols]
    with a batch axis), or of its transpose's [cols, rows] tiles where t's columns are the
    strided axis, and whether it is the transpose; None where no descriptor can describe t
    (a GPU before Hopper, no unit stride, a stride or the base not 16-byte aligned)."""
    if t.is_cuda:
        if t.device not in _TMA_CC:
            _TMA_CC[t.device] = torch.cuda.get_device_capability(t.device)[0] >= 9
        if not _TMA_CC[t.device]:
            return None
    trans = t.stride(-1) != 1
    u = t.transpose(-1, -2) if trans else t
    size = u.element_size()
    if u.numel() == 0 or u.stride(-1) != 1 or u.data_ptr() % 16:
        return None
    if any(s <= 0 or s * size % 16 for s in u.stride()[:-1]):
        return None
    box = [1] * (u.dim() - 2) + ([cols, rows] if trans else [rows, cols])
    return TensorDescriptor.from_tensor(u, box), trans'''


def _tile(desc: str, at: tuple[str, str], shape: tuple[str, str], batched: bool) -> str:
    """A descriptor load of one [shape] tile at the (row, column) offsets ``at``."""
    if not batched:
        return f"{desc}.load([{at[0]}, {at[1]}])"
    return f"tl.reshape({desc}.load([bid, {at[0]}, {at[1]}]), ({shape[0]}, {shape[1]}))"


def tma_k_loop(prec: str, split: bool, batched: bool) -> list[str]:
    """The fp32 accumulator over K from descriptor loads (no masks: the TMA zero-fills past
    the edges); a split program walks KI of the BK steps from sid * KI. ``A_T``/``B_T``: the
    descriptor is of the operand's transpose, so the tile is loaded transposed."""
    k0, k1 = (
        ("sid * KI", "min(sid * KI + KI, tl.cdiv(K, BK))") if split else ("0", "tl.cdiv(K, BK)")
    )
    a = _tile("a_desc", ("pid_m * BM", "k * BK"), ("BM", "BK"), batched)
    a_t = _tile("a_desc", ("k * BK", "pid_m * BM"), ("BK", "BM"), batched)
    b = _tile("b_desc", ("k * BK", "pid_n * BN"), ("BK", "BN"), batched)
    b_t = _tile("b_desc", ("pid_n * BN", "k * BK"), ("BN", "BK"), batched)
    return [
        "acc = tl.zeros((BM, BN), dtype=tl.float32)",
        f"for k in range({k0}, {k1}):",
        "    if A_T:",
        f"        av = tl.trans({a_t})",
        "    else:",
        f"        av = {a}",
        "    if B_T:",
        f"        bv = tl.trans({b_t})",
        "    else:",
        f"        bv = {b}",
        f"    acc = tl.dot(av, bv, acc{prec})",
    ]


def tma_launch(name: str, operands: tuple[str, str], p: dict[str, int], tma_call: str,
               pointer_call: str) -> list[str]:  # fmt: skip
    """forward() lines: descriptors of both operands, then the TMA kernel, or the pointer
    kernel where either cannot be described. ``tma_call`` is the TMA launch with its
    descriptors written ``@A@``/``@B@`` and its transpose flags ``@A_T@``/``@B_T@``."""
    ad, bd = f"{name}_a", f"{name}_b"
    call = tma_call
    for key, val in (("@A_T@", f"{ad}[1]"), ("@B_T@", f"{bd}[1]"), ("@A@", f"{ad}[0]"),
                     ("@B@", f"{bd}[0]")):  # fmt: skip
        call = call.replace(key, val)
    a, w = operands
    return [
        f"{ad} = _tma_desc({a}, {p['BM']}, {p['BK']})",
        f"{bd} = _tma_desc({w}, {p['BK']}, {p['BN']})",
        f"if {ad} is not None and {bd} is not None:",
        f"    {call}",
        "else:",
        f"    {pointer_call}",
    ]
