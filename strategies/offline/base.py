"""The contract between the offline realizer and its per-task-kind kernel generators.

A `Generator` knows one task kind (``softmax``, ``matmul``, ...): its default
kernel parameters, how each applicable strategy changes them, and how to render
parameters into a complete KernelBench ``ModelNew`` module. Rendered modules
carry their parameters in a header line so any file can be a parent again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from profiling.tasks import Task

PARAMS_MARKER = "# kernel-bandit-params: "
_PARAMS_RE = re.compile(r"^# kernel-bandit-params: (\{.*\})\s*$", re.MULTILINE)

Params = dict[str, Any]


@dataclass(frozen=True)
class Generator:
    kind: str
    # starting parameters for a task of this kind (the "naive but correct" kernel)
    defaults: Callable[[Task], Params]
    # strategy id, current params, task -> new params, or None when the strategy
    # does not apply or would not change the kernel (e.g. num_warps already maximal)
    apply: Callable[[str, Params, Task], Params | None]
    # params -> full module source (without the header; `render_module` adds it)
    render: Callable[[Params], str]


def strategy_name(strategy_id: str) -> str:
    """The name part of a catalog id (``tiling/block_size_up`` -> ``block_size_up``).

    Generators match strategies by name, so a strategy can move between families
    in the catalog without touching them.
    """
    return strategy_id.rsplit("/", 1)[-1]


def render_module(gen: Generator, params: Mapping[str, Any]) -> str:
    body = gen.render(dict(params))
    header = PARAMS_MARKER + json.dumps({"kind": gen.kind, **params}, sort_keys=True)
    return f"{header}\n{body}"


def parse_params(source: str) -> Params | None:
    """Parameters embedded in an offline-generated module, or None for other sources."""
    m = _PARAMS_RE.search(source)
    if not m:
        return None
    try:
        params = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return params if isinstance(params, dict) else None


_REGISTRY: dict[str, Generator] = {}


def register(gen: Generator) -> Generator:
    if gen.kind in _REGISTRY:
        raise ValueError(f"duplicate offline generator for kind {gen.kind!r}")
    _REGISTRY[gen.kind] = gen
    return gen


def generators() -> Mapping[str, Generator]:
    return dict(_REGISTRY)
