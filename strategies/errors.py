"""Errors raised by the strategies package."""

from __future__ import annotations


class RealizerError(Exception):
    """Fatal, user-caused realizer problem: bad API key, unreachable endpoint,
    unknown model, replay cache miss. The message is one clear line; callers
    print it and stop (the CLI exits 2, the tuner ends the run cleanly)."""


class CatalogError(ValueError):
    """The strategy catalog file is malformed; the message names the entry and field."""
