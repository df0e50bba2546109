"""Compiled-kernel resources (registers, spills, shared memory, warps), best effort."""

from __future__ import annotations

import types


def kernel_resources(mod: types.ModuleType | None) -> dict[str, float]:
    """Max registers / spills / shared memory / num_warps over the candidate's compiled
    Triton kernels (keys ``n_regs``, ``n_spills``, ``shared``, ``num_warps``)."""
    if mod is None:
        return {}
    try:
        from triton.runtime.jit import JITFunction
    except ImportError:
        return {}
    out: dict[str, float] = {}
    try:
        for v in list(vars(mod).values()):
            for _ in range(4):
                if isinstance(v, JITFunction) or not hasattr(type(v), "__dict__"):
                    break
                v = getattr(v, "fn", None)
            if not isinstance(v, JITFunction):
                continue
            for entry in getattr(v, "device_caches", {}).values():
                cache = entry[0] if isinstance(entry, tuple) else entry
                for k in getattr(cache, "values", lambda: [])():
                    regs = getattr(k, "n_regs", None)
                    spills = getattr(k, "n_spills", None)
                    meta = getattr(k, "metadata", None)
                    shared = getattr(meta, "shared", None)
                    warps = getattr(meta, "num_warps", None)
                    for name, val in (
                        ("n_regs", regs),
                        ("n_spills", spills),
                        ("shared", shared),
                        ("num_warps", warps),
                    ):
                        if isinstance(val, int | float):
                            out[name] = max(out.get(name, 0.0), float(val))
    except Exception:
        return out
    return out
