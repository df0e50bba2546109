"""Comparing a candidate's outputs (and inputs) with the reference's.

Tolerances are chosen by dtype. ``atol`` is *relative to the reference's RMS
magnitude* (so it means the same for a softmax row of 1e-4 values and a K=8192
matmul whose entries are ~100): an element passes when

    |out - ref| <= atol * rms(ref) + rtol * |ref|

and the whole tensor must also satisfy ``||out - ref|| / ||ref|| <= relnorm``.
NaN/Inf in the candidate pass only where the reference has the same value at
the same place. fp32 work on a GPU is checked against a reference computed with
TF32 off; when the task's reference itself is TF32-sensitive (matmul, conv), the
tolerance is widened to admit an honest TF32 kernel (Triton's ``tl.dot`` uses
TF32 on fp32 inputs by default) while zeros and garbage still fail.

Precision policy for fp32 tasks (what a candidate may do internally):

- fp32 throughout: always fine.
- TF32: admitted only where the reference itself is TF32-sensitive (matmul,
  conv: its own TF32 run differs from the fp32 one by more than 1e-7), with a
  relative error norm of at most max(1e-3, 4x the reference's TF32 error). On
  element-wise, reduction and normalization tasks the fp32 tolerance stands.
- bf16 (8 mantissa bits, about 8x TF32's error: 2.3e-3 against 2.9e-4 on
  random matmuls of any K) fails both.
- fp16 inputs with fp32 accumulation carry TF32's mantissa and can pass the
  value check on the task's own inputs, but the wide-range probe
  (:mod:`profiling.input_probes`, |x| ~ 1e5, beyond fp16's 65504) overflows it.
- A task opts into lower precision with a module constant
  ``PRECISION = "bf16"`` or ``"fp16"``: its fp32 outputs are then checked with
  that dtype's tolerance (and no TF32 probe is run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float  # times the reference's RMS magnitude
    relnorm: float
    name: str = ""


TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float64: Tolerance(1e-7, 1e-9, 1e-9, "float64"),
    torch.float32: Tolerance(1e-4, 1e-5, 1e-5, "float32"),
    torch.float16: Tolerance(5e-3, 5e-3, 2e-3, "float16"),
    torch.bfloat16: Tolerance(2e-2, 2e-2, 1e-2, "bfloat16"),
}
TF32 = Tolerance(1e-2, 1e-2, 1e-3, "tf32")
TF32_PROBE_THRESHOLD = 1e-7  # reference error from TF32 above which a task counts as TF32-sensitive


def tolerance_for(dtype: torch.dtype, tf32_error: float | None = None) -> Tolerance:
    """The tolerance for outputs of ``dtype``.

    ``tf32_error``: relative error norm of the reference run with TF32 on
    versus off (only measured for fp32 on a GPU). Above the probe threshold the
    fp32 tolerance becomes the TF32 one, scaled up when TF32 errors compound
    (chains of matmuls, softmax of matmul logits) and capped so that garbage
    never passes.
    """
    base = TOLERANCES.get(dtype, TOLERANCES[torch.float32])
    if dtype != torch.float32 or tf32_error is None or tf32_error <= TF32_PROBE_THRESHOLD:
        return base
    relnorm = min(max(TF32.relnorm, 4 * tf32_error), 5e-2)
    elem = min(max(TF32.rtol, 10 * tf32_error), 1e-1)
    return Tolerance(elem, elem, relnorm, "tf32")


@dataclass(frozen=True)
class Comparison:
    ok: bool
    error: str = ""
    rel_error: float = 0.0  # worst relative error norm over the output tensors


def flatten_output(out: Any) -> list[Any]:
    if isinstance(out, tuple | list):
        return list(out)
    return [out]


def _describe(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return (
            f"tensor{tuple(obj.shape)} {str(obj.dtype).removeprefix('torch.')} on {obj.device.type}"
        )
    if isinstance(obj, tuple | list):
        return f"{type(obj).__name__} of {len(obj)}"
    return type(obj).__name__


# Elements per comparison chunk. A chunk's float64 temporaries take about 64 bytes an
# element (copies, masks, differences): 1 Mi elements keep them at ~64 MiB, the harness's
# fixed allowance, whatever the output's size, so timed checks fit the 3 (I + O) budget.
# Bigger chunks cost memory, not time worth having: 16 Mi cost every small task ~1 GiB on
# the H200 (peak 6-9x its own bytes). Every whole-tensor check scans in these chunks
# (`tensors_equal`, `all_finite`): one unchunked bool mask is a quarter of an fp32 tensor,
# which put a 6.4 GB-a-tensor ReLU 1.6 GB over its budget while timing (40.3 GB, not 38.7).
CHUNK = 1 << 20


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1)


def _chunks(t: torch.Tensor) -> list[slice]:
    """`t`'s flat index range in chunks of `CHUNK` elements."""
    return [slice(s, s + CHUNK) for s in range(0, t.numel(), CHUNK)]


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """||out - ref|| / ||ref|| over finite entries, in float64 (chunked: bounded memory)."""
    o, r = _flat(out.detach()), _flat(ref.detach())
    num = den = 0.0
    for s in _chunks(o):
        oc, rc = o[s].double(), r[s].double()
        finite = torch.isfinite(rc)
        rc = torch.where(finite, rc, 0.0)
        num += float(torch.where(finite, oc - rc, 0.0).square().sum())
        den += float(rc.square().sum())
    num, den = num**0.5, den**0.5
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / den


def compare_tensor(
    out: Any, ref: torch.Tensor, tol: Tolerance, label: str = "output"
) -> Comparison:
    if type(out) not in (torch.Tensor, torch.nn.Parameter):
        return Comparison(
            False, f"{label} is {_describe(out)}, expected {_describe(ref)}", float("inf")
        )
    out = out.detach()
    if tuple(out.shape) != tuple(ref.shape) or out.dtype != ref.dtype:
        return Comparison(
            False, f"{label} is {_describe(out)}, expected {_describe(ref)}", float("inf")
        )
    if out.device.type != ref.device.type:
        return Comparison(
            False, f"{label} is on {out.device.type}, expected {ref.device.type}", float("inf")
        )
    if out.numel() == 0:
        return Comparison(True)
    o, r = _flat(out), _flat(ref.detach())
    if not (out.is_floating_point() or out.is_complex()):
        bad = sum(int((o[s] != r[s]).sum()) for s in _chunks(o))
        if not bad:
            return Comparison(True)
        return Comparison(False, f"{label}: {bad} of {out.numel()} values differ", float("inf"))
    bad_special = 0
    sq_ref = 0.0
    n_fin = 0
    for s in _chunks(o):
        oc, rc = o[s].double(), r[s].double()
        o_fin, r_fin = torch.isfinite(oc), torch.isfinite(rc)
        same = (~o_fin) & (~r_fin) & ((oc == rc) | (torch.isnan(oc) & torch.isnan(rc)))
        bad_special += int(((~o_fin) & ~same).sum()) + int(((~r_fin) & o_fin).sum())
        sq_ref += float(torch.where(r_fin, rc, 0.0).square().sum())
        n_fin += int(r_fin.sum())
    if bad_special:
        return Comparison(
            False,
            f"{label}: {bad_special} NaN/Inf values where the reference differs",
            float("inf"),
        )
    rel = relative_error(out, ref)
    rms = sq_ref**0.5 / max(n_fin, 1) ** 0.5
    n_bad = 0
    worst: tuple[float, int] | None = None  # (excess, flat index)
    for s in _chunks(o):
        oc, rc = o[s].double(), r[s].double()
        fin = torch.isfinite(rc)
        rf = torch.where(fin, rc, 0.0)
        excess = (torch.where(fin, oc, 0.0) - rf).abs() - (tol.atol * rms + tol.rtol * rf.abs())
        viol = excess > 0
        nb = int(viol.sum())
        if nb:
            n_bad += nb
            i = int(torch.argmax(torch.where(viol, excess, 0.0)))
            e = float(excess[i])
            if worst is None or e > worst[0]:
                worst = (e, s.start + i)
    if worst is not None:
        idx = worst[1]
        pos = tuple(int(i) for i in torch.unravel_index(torch.tensor(idx), tuple(out.shape)))
        got, want = float(o[idx]), float(r[idx])
        return Comparison(
            False,
            f"{label}: {n_bad} of {out.numel()} elements outside tolerance "
            f"({tol.name} rtol={tol.rtol:g} atol={tol.atol:g}*rms); worst at {list(pos)}: "
            f"got {got:.6g}, expected {want:.6g}; rel. error norm {rel:.3g}",
            rel,
        )
    if rel > tol.relnorm:
        return Comparison(
            False, f"{label}: relative error norm {rel:.3g} > {tol.relnorm:g} ({tol.name})", rel
        )
    return Comparison(True, "", rel)


def compare_outputs(out: Any, ref: Any, tolerances: Sequence[Tolerance] | Tolerance) -> Comparison:
    """Compare a candidate's output structure with the reference's.

    ``tolerances``: one per reference output tensor (or one for all).
    """
    outs, refs = flatten_output(out), flatten_output(ref)
    ref_is_seq = isinstance(ref, tuple | list)
    if isinstance(out, tuple | list) != ref_is_seq or len(outs) != len(refs):
        return Comparison(
            False, f"output is {_describe(out)}, expected {_describe(ref)}", float("inf")
        )
    tols = [tolerances] * len(refs) if isinstance(tolerances, Tolerance) else list(tolerances)
    worst = 0.0
    for i, (o, r) in enumerate(zip(outs, refs, strict=True)):
        label = f"output[{i}]" if ref_is_seq else "output"
        if isinstance(r, torch.Tensor):
            c = compare_tensor(o, r, tols[min(i, len(tols) - 1)], label)
        elif isinstance(o, torch.Tensor) or o != r:
            c = Comparison(False, f"{label} is {o!r:.60}, expected {r!r:.60}", float("inf"))
        else:
            c = Comparison(True)
        if not c.ok:
            return c
        worst = max(worst, c.rel_error)
    return Comparison(True, "", worst)


def output_dtypes(ref: Any) -> list[torch.dtype | None]:
    return [r.dtype if isinstance(r, torch.Tensor) else None for r in flatten_output(ref)]


def tensors_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape, dtype and values (NaN equal to NaN), compared in chunks: `torch.equal`
    builds a whole-tensor mask (a quarter of an fp32 tensor's bytes: 1.6 GB over budget
    for a 6.4 GB tensor while the timing buffers are live)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    x, y = _flat(a.detach()), _flat(b.detach())
    for s in _chunks(x):
        xs, ys = x[s], y[s]
        same = xs == ys
        if xs.is_floating_point() or xs.is_complex():
            same |= torch.isnan(xs) & torch.isnan(ys)
        if not bool(same.all()):
            return False
    return True


def all_finite(t: torch.Tensor) -> bool:
    """No NaN/Inf in `t`, in chunks (a whole-tensor mask would cost a quarter of its bytes)."""
    if not (t.is_floating_point() or t.is_complex()):
        return True
    x = _flat(t.detach())
    return all(bool(torch.isfinite(x[s]).all()) for s in _chunks(x))


def find_mutation(after: Sequence[Any], before: Sequence[Any]) -> str | None:
    """Describe the first input whose contents changed, or None."""
    for i, (a, b) in enumerate(zip(after, before, strict=True)):
        if isinstance(b, torch.Tensor):
            if not isinstance(a, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
                return f"candidate replaced input {i}"
            if not tensors_equal(a, b):
                return f"candidate modified its input {i} in place"
    return None


def input_check(cand_in: list[Any], inputs: list[Any], ref_in: list[Any]) -> str | None:
    """Inputs must come back untouched, or (for an in-place reference) updated alike.

    ``inputs`` are pristine copies; ``cand_in``/``ref_in`` what the candidate and the
    reference left in their own copies. Returns what is wrong, or None.
    """
    if find_mutation(ref_in, inputs) is None:
        return find_mutation(cand_in, inputs)
    for i, (c, r) in enumerate(zip(cand_in, ref_in, strict=True)):
        if isinstance(r, torch.Tensor):
            cmp = compare_outputs(c, r, tolerance_for(r.dtype))
            if not cmp.ok:
                return (
                    f"input {i} after the call differs from the in-place reference's: {cmp.error}"
                )
    return None


def storages(x: Any) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for t in flatten_output(x):
        if isinstance(t, torch.Tensor) and t.numel() > 0:
            out.add((t.device.type, t.untyped_storage().data_ptr()))
    return out


def aliasing_error(
    out: Any, cand_in: Sequence[Any], ref_out: Any, ref_in: Sequence[Any]
) -> str | None:
    """An output sharing storage with an input is rejected, unless the reference's does too.

    (An in-place reference that returns its input makes the same of the candidate legal.)
    """
    ref_alias = storages(ref_out) & storages(list(ref_in))
    for i, o in enumerate(flatten_output(out)):
        if not isinstance(o, torch.Tensor) or o.numel() == 0:
            continue
        key = (o.device.type, o.untyped_storage().data_ptr())
        for j, x in enumerate(cand_in):
            same = (
                isinstance(x, torch.Tensor)
                and x.numel() > 0
                and (x.device.type, x.untyped_storage().data_ptr()) == key
            )
            if same and not ref_alias:
                which = f"output[{i}]" if isinstance(out, tuple | list) else "output"
                return f"{which} shares storage with input {j} (the reference returns a new tensor)"
    return None


def fingerprint(x: Any) -> tuple[int, ...]:
    """A cheap digest of the bytes of every tensor in ``x`` (chunked; bounded memory).

    Used to notice writes into an output after the call that produced it returned.
    """
    out: list[int] = []
    for t in flatten_output(x):
        if not isinstance(t, torch.Tensor) or t.numel() == 0:
            continue
        flat = t.detach().reshape(-1)
        words = flat.view(torch.uint8) if flat.element_size() == 1 else None
        if words is None:
            try:
                words = flat.view(torch.int16 if flat.element_size() == 2 else torch.int32)
            except RuntimeError:
                words = flat.contiguous().view(torch.uint8)
        s1 = s2 = 0
        for s in _chunks(words):
            w = words[s].to(torch.int64)
            s1 += int(w.sum())
            s2 += int((w * (torch.arange(w.numel(), device=w.device) % 251 + 1)).sum())
        out += [s1, s2]
    return tuple(out)
