"""Build a realizer from its kind and options (the resolved realizer config section)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strategies.errors import RealizerError
from strategies.types import Realizer

REALIZER_KINDS = ("offline", "graph", "openai")
# ``graph`` names the offline realizer too: it was the templates-only mode while the bundled
# kinds still had per-kind generators, and scripts, results and landscapes still use it.
ALIASES = {"graph": "offline"}


def build_realizer(kind: str, options: Mapping[str, Any]) -> Realizer:
    """``kind`` "offline" (alias "graph") or "openai"; ``options`` the realizer's config section.

    "offline" generates every task's kernels from its captured graph with the template
    classes (`strategies.graph`). Realizer modules are imported here, on demand, so that
    using one never imports the other's dependencies. Bad options raise `RealizerError`.
    """
    # ``name`` picks the kind; ``repair_turns`` sits in the same config section but is
    # the tuner's (it counts repair turns; a realizer answers one turn at a time).
    opts = {k: v for k, v in dict(options).items() if k not in ("name", "repair_turns")}
    if ALIASES.get(kind, kind) == "offline":
        tf32 = opts.pop("allow_tf32", False)
        if opts:
            raise RealizerError(
                f"the {kind} realizer takes no options (got {', '.join(sorted(opts))}) "
                "other than allow_tf32"
            )
        if not isinstance(tf32, bool):
            raise RealizerError(f"realizer.allow_tf32 must be true or false, got {tf32!r}")
        from strategies.graph.realizer import GraphRealizer

        return GraphRealizer(allow_tf32=tf32)
    if kind == "openai":
        from strategies.openai_realizer import OpenAIConfig, OpenAIRealizer

        return OpenAIRealizer(OpenAIConfig.from_options(opts))
    raise RealizerError(f"unknown realizer {kind!r} (choose one of {', '.join(REALIZER_KINDS)})")
