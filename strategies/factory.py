"""Build a realizer from its kind and options (the resolved realizer config section)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strategies.errors import RealizerError
from strategies.types import Realizer

REALIZER_KINDS = ("offline", "graph", "openai")


def build_realizer(kind: str, options: Mapping[str, Any]) -> Realizer:
    """``kind`` "offline", "graph" or "openai"; ``options`` the realizer's config section.

    "offline" generates from the task's captured graph (`strategies.graph`), keeping the
    per-kind generators for the bundled kinds; "graph" uses the templates for every task.

    Realizer modules are imported here, on demand, so that using one never
    imports the other's dependencies. Bad options raise `RealizerError`.
    """
    # ``name`` picks the kind; ``repair_turns`` sits in the same config section but is
    # the tuner's (it counts repair turns; a realizer answers one turn at a time).
    opts = {k: v for k, v in dict(options).items() if k not in ("name", "repair_turns")}
    if kind in ("offline", "graph"):
        tf32 = opts.pop("allow_tf32", False)
        if opts:
            raise RealizerError(
                f"the {kind} realizer takes no options (got {', '.join(sorted(opts))}) "
                "other than allow_tf32"
            )
        if not isinstance(tf32, bool):
            raise RealizerError(f"realizer.allow_tf32 must be true or false, got {tf32!r}")
        from strategies.offline_realizer import OfflineRealizer

        return OfflineRealizer(templates_only=kind == "graph", allow_tf32=tf32)
    if kind == "openai":
        from strategies.openai_realizer import OpenAIConfig, OpenAIRealizer

        return OpenAIRealizer(OpenAIConfig.from_options(opts))
    raise RealizerError(f"unknown realizer {kind!r} (choose one of {', '.join(REALIZER_KINDS)})")
