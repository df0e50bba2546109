"""Anti-gaming guards that run inside the worker.

`NamespaceGuard` remembers, before any candidate is imported, the identity of
every function and class reachable from the namespaces that the harness and
the reference rely on: the timers (``time.perf_counter``, ``torch.cuda.Event``
and its methods, ``torch.cuda.synchronize``), ``torch``, ``torch.Tensor``,
``torch.nn.functional``, the ``torch.nn`` module classes, ``builtins``,
``numpy`` and the harness's own modules. After the candidate's import and after
its runs, anything rebound is reported (and put back): a candidate that patches
a timer, or swaps ``torch.softmax`` so that the reference runs its code, is
rejected.

Side-stream work hidden from the timer, outputs cached by data pointer, stale
outputs and results faster than the physical floor are caught in
:mod:`profiling.timing` and :mod:`profiling.roofline`.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
import threading
import time
import types
from collections.abc import Iterable
from typing import Any

# Checked first and reported by these names.
TIMER_NAMES = (
    "time.perf_counter",
    "time.perf_counter_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "time.time",
    "time.time_ns",
    "time.process_time",
    "torch.cuda.Event",
    "torch.cuda.Event.record",
    "torch.cuda.Event.elapsed_time",
    "torch.cuda.Event.synchronize",
    "torch.cuda.Event.query",
    "torch.cuda.synchronize",
    "torch.cuda.current_stream",
    "torch.cuda.Stream",
    "torch.cuda.Stream.synchronize",
)


def _interesting(v: Any) -> bool:
    return callable(v) or isinstance(v, types.ModuleType)


def _namespaces() -> list[tuple[str, Any]]:
    import numpy
    import torch
    import torch.nn.functional as F

    spaces: list[tuple[str, Any]] = [
        ("time", time),
        ("builtins", builtins),
        ("torch", torch),
        ("torch.Tensor", torch.Tensor),
        ("torch._C.TensorBase", torch._C.TensorBase),
        ("torch.nn.functional", F),
        ("torch._C._nn", torch._C._nn),
        ("torch.nn.Module", torch.nn.Module),
        ("torch.cuda", torch.cuda),
        ("torch.cuda.Event", torch.cuda.Event),
        ("torch.cuda.Stream", torch.cuda.Stream),
        ("torch.linalg", torch.linalg),
        ("torch.testing", torch.testing),
        ("numpy", numpy),
    ]
    for name in dir(torch.nn):
        cls = getattr(torch.nn, name, None)
        if (
            isinstance(cls, type)
            and issubclass(cls, torch.nn.Module)
            and cls is not torch.nn.Module
        ):
            spaces.append((f"torch.nn.{name}", cls))
    for modname, mod in list(sys.modules.items()):
        if (modname == "profiling" or modname.startswith("profiling.")) and mod is not None:
            spaces.append((modname, mod))
    return spaces


class NamespaceGuard:
    """Snapshot of callables in trusted namespaces; reports and undoes rebinding.

    For classes, a *new* entry in the class dict is a change too (it would
    shadow an inherited method, e.g. ``torch.Tensor.__add__``); for modules,
    new names are ignored (lazy imports add them).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, str, Any]] = {}
        self._class_keys: dict[str, tuple[type, frozenset[str]]] = {}
        self.refresh()

    def refresh(self, extra: Iterable[tuple[str, Any]] = ()) -> None:
        """Take the snapshot (again). Only call while no candidate code is loaded."""
        entries: dict[str, tuple[Any, str, Any]] = {}
        class_keys: dict[str, tuple[type, frozenset[str]]] = {}
        for prefix, ns in [*_namespaces(), *extra]:
            try:
                d = vars(ns)
            except TypeError:
                continue
            if isinstance(ns, type):
                class_keys[prefix] = (ns, frozenset(d))
            for k, v in list(d.items()):
                if _interesting(v):
                    entries[f"{prefix}.{k}"] = (ns, k, v)
        self._entries = entries
        self._class_keys = class_keys

    def changed(self) -> list[str]:
        """Names rebound (or added to a class) since the snapshot, timers first.

        Rebinding done by torch itself (torch.compile installs a few wrappers on
        first use) is accepted into the snapshot instead of reported.
        """
        out = []
        for name, (ns, k, v) in list(self._entries.items()):
            now = vars(ns).get(k, _MISSING)
            if now is v:
                continue
            if _torch_internal(now):
                self._entries[name] = (ns, k, now)
            else:
                out.append(name)
        for prefix, (cls, keys) in list(self._class_keys.items()):
            for k, v in list(vars(cls).items()):
                if k in keys:
                    continue
                if _torch_internal(v) or isinstance(v, bool | int | type(None)):
                    self._class_keys[prefix] = (cls, keys | {k})
                    if _interesting(v):
                        self._entries[f"{prefix}.{k}"] = (cls, k, v)
                else:
                    out.append(f"{prefix}.{k}")
        timers = [n for n in out if n in TIMER_NAMES]
        return timers + [n for n in out if n not in TIMER_NAMES]

    def restore(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self._entries:
                ns, k, v = self._entries[name]
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(ns, k, v)
                continue
            prefix, _, k = name.rpartition(".")
            if prefix in self._class_keys:
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(self._class_keys[prefix][0], k)

    def check(self) -> str | None:
        """An error text naming what was patched (and put back), or None."""
        changed = self.changed()
        if not changed:
            return None
        self.restore(changed)
        what = "timer" if changed[0] in TIMER_NAMES else "harness/torch function"
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        return f"candidate patched the {what} {changed[0]}{more}"


_MISSING = object()
# torch subpackages whose code legitimately patches torch at run time (torch.compile)
_TORCH_PATCHERS = frozenset(
    {"_dynamo", "_inductor", "_compile.py", "_functorch", "fx", "_subclasses"}
)


def _torch_internal(obj: Any) -> bool:
    """Whether ``obj`` is a function defined inside torch's own patching machinery."""
    fn = getattr(obj, "__func__", obj)
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    import torch

    root = os.path.dirname(os.path.abspath(torch.__file__))
    path = os.path.abspath(code.co_filename)
    if not path.startswith(root + os.sep):
        return False
    return path[len(root) + 1 :].split(os.sep)[0] in _TORCH_PATCHERS


def library_thread(t: threading.Thread) -> bool:
    """Threads torch/triton start for themselves (compile workers, monitors)."""
    target = getattr(t, "_target", None)
    mods = (getattr(target, "__module__", "") or "", type(t).__module__ or "")
    return any(m.split(".")[0] in ("torch", "triton", "tqdm") for m in mods)
