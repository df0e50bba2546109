"""Strategies: the catalog of optimizations, prompts, and realizers that apply them.

Every realizer follows the `Realizer` protocol (optional parts defaulted by
`BaseRealizer`) and passes the kit in :mod:`strategies.testing`.

The OpenAI realizer is imported lazily (``strategies.OpenAIRealizer``) so that
importing the package never pulls in the ``openai`` SDK.
"""

from __future__ import annotations

from typing import Any

from strategies.catalog import Catalog, load_catalog
from strategies.errors import CatalogError, RealizerError
from strategies.factory import build_realizer
from strategies.types import (
    FAMILIES,
    RESOURCES,
    BaseRealizer,
    Candidate,
    Realization,
    RealizationCost,
    Realizer,
    RealizeRequest,
    Strategy,
)

__all__ = [
    "FAMILIES",
    "RESOURCES",
    "BaseRealizer",
    "Candidate",
    "Catalog",
    "CatalogError",
    "OpenAIConfig",
    "OpenAIRealizer",
    "Realization",
    "RealizationCost",
    "RealizeRequest",
    "Realizer",
    "RealizerError",
    "Strategy",
    "build_realizer",
    "load_catalog",
]


def __getattr__(name: str) -> Any:
    if name in ("OpenAIConfig", "OpenAIRealizer"):
        from strategies import openai_realizer

        return getattr(openai_realizer, name)
    raise AttributeError(f"module 'strategies' has no attribute {name!r}")
