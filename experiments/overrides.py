"""Command-line overrides checked before Hydra sees them: one clear line, exit 2.

Hydra reports an unknown group option (``task=nope``), an unknown key or a
malformed override with several lines of text and exit code 1, after it has
created the run directory. `check_overrides` catches those first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
HINTS = {"task": " (or task.name=path/to/problem.py for your own KernelBench file)"}


def _options(group: str, conf_dir: Path) -> list[str]:
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def check_overrides(args: Sequence[str], top_level: Sequence[str], conf_dir: Path = CONF_DIR) -> str | None:
    """The first problem with the command-line overrides ``args``, or None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep
    from hydra.errors import HydraException

    overrides = [a for a in args if not a.startswith("-")]
    parser = OverridesParser.create()
    for text in overrides:
        try:
            (o,) = parser.parse_overrides([text])
        except HydraException as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return f"bad override {text!r}: {first} (expected key=value)"
        key = o.key_or_group
        root = key.replace("/", ".").split(".")[0].lstrip("+~")
        if root == "hydra":
            continue
        if root not in top_level and not o.is_add():
            return f"unknown setting {root!r} in {text!r} (settings: {', '.join(top_level)})"
        if key in _groups(conf_dir) and not o.is_delete():
            value = o.value()
            values = value.list if isinstance(value, ChoiceSweep) else [value]
            known = _options(key, conf_dir)
            for v in values:
                if not isinstance(v, str) or v not in known:
                    return (
                        f"unknown {key} {v!r} (choose from: {', '.join(known)})"
                        f"{HINTS.get(key, '')}"
                    )
    return None


def _groups(conf_dir: Path) -> set[str]:
    return {p.name for p in conf_dir.iterdir() if p.is_dir()}
