"""The strategy catalog: ``catalog.yaml`` loaded into validated `Strategy` records.

The YAML file is data: a list of known task kinds and a list of strategies.
Adding a strategy is adding an entry; `load_catalog` checks every entry and
names the entry and field in its error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from profiling.errors import trim
from strategies.errors import CatalogError
from strategies.types import FAMILIES, RESOURCES, Strategy

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")
TARGETS = ("triton", "cuda")

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")
_REQUIRED = ("id", "resource", "description", "guidance")
_OPTIONAL = ("family", "applies_to", "target")


@dataclass(frozen=True)
class Catalog:
    strategies: tuple[Strategy, ...]
    task_kinds: tuple[str, ...] = ()  # kinds that entries may name in applies_to

    def __iter__(self) -> Iterator[Strategy]:
        return iter(self.strategies)

    def __len__(self) -> int:
        return len(self.strategies)

    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.strategies)

    def get(self, strategy_id: str) -> Strategy:
        """The strategy with this id; KeyError with a one-line message naming the known ids."""
        for s in self.strategies:
            if s.id == strategy_id:
                return s
        raise KeyError(f"unknown strategy {strategy_id!r} (known: {', '.join(self.ids())})")

    def families(self) -> tuple[str, ...]:
        """Families that hold at least one strategy, in the canonical order."""
        present = {s.family for s in self.strategies}
        return tuple(f for f in FAMILIES if f in present)

    def applies(self, strategy: Strategy, kind: str) -> bool:
        """Whether a strategy applies to a task kind. A kind the catalog does not list in
        ``task_kinds`` (an arbitrary KernelBench file) is open to every strategy: nothing is
        known about it, so the realizer decides."""
        return kind not in self.task_kinds or strategy.applies(kind)

    def for_kind(self, kind: str, target: str | None = None) -> tuple[Strategy, ...]:
        """Strategies applicable to a task kind (see `applies`), optionally of one target."""
        return tuple(
            s
            for s in self.strategies
            if self.applies(s, kind) and (target is None or s.target == target)
        )

    def runnable(self, kind: str, device: str) -> tuple[Strategy, ...]:
        """The strategies a tuner offers for a task kind on a device: those that apply
        (see `applies`), CUDA C++ ones only on ``cuda``. The tuner's arms, the space
        walker and the landscape recorder all use this one selection."""
        return tuple(s for s in self.for_kind(kind) if s.target != "cuda" or device == "cuda")

    def in_family(self, family: str) -> tuple[Strategy, ...]:
        return tuple(s for s in self.strategies if s.family == family)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file (default: the bundled ``strategies/catalog.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CATALOG
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise CatalogError(f"cannot read strategy catalog {path}: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise CatalogError(f"{path.name}: not valid YAML: {trim(str(e))}") from e
    return parse_catalog(data, source=path.name)


def parse_catalog(data: Any, source: str = "catalog") -> Catalog:
    """Validate already-parsed catalog data (a mapping with ``task_kinds`` and ``strategies``)."""
    if not isinstance(data, Mapping):
        raise CatalogError(f"{source}: expected a mapping with 'task_kinds' and 'strategies'")
    extra = sorted(set(data) - {"task_kinds", "strategies"})
    if extra:
        raise CatalogError(f"{source}: unknown top-level key(s): {', '.join(map(str, extra))}")
    kinds = data.get("task_kinds") or []
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds):
        raise CatalogError(f"{source}: task_kinds must be a list of task kind names")
    entries = data.get("strategies")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: 'strategies' must be a non-empty list")
    strategies: list[Strategy] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        s = _strategy(entry, f"{source}: strategy #{i}", tuple(kinds))
        if s.id in seen:
            raise CatalogError(f"{source}: strategy #{i}: duplicate id {s.id!r}")
        seen.add(s.id)
        strategies.append(s)
    return Catalog(tuple(strategies), tuple(kinds))


def _strategy(entry: Any, where: str, kinds: tuple[str, ...]) -> Strategy:
    if not isinstance(entry, Mapping):
        raise CatalogError(f"{where}: expected a mapping, got {type(entry).__name__}")
    sid = entry.get("id")
    if isinstance(sid, str):
        where = f"{where} ({sid})"
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise CatalogError(f"{where}: missing field(s): {', '.join(missing)}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CatalogError(f"{where}: unknown field(s): {', '.join(map(str, unknown))}")
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        raise CatalogError(f"{where}: id must look like 'family/name' (lowercase, digits, _), got {sid!r}")
    family, name = sid.split("/")
    if family not in FAMILIES:
        raise CatalogError(f"{where}: family {family!r} is not one of {', '.join(FAMILIES)}")
    if entry.get("family", family) != family:
        raise CatalogError(f"{where}: family {entry['family']!r} does not match the id prefix {family!r}")
    resource = entry["resource"]
    if resource not in RESOURCES:
        raise CatalogError(f"{where}: resource {resource!r} is not one of {', '.join(RESOURCES)}")
    target = entry.get("target", "triton")
    if target not in TARGETS:
        raise CatalogError(f"{where}: target {target!r} is not one of {', '.join(TARGETS)}")
    description, guidance = entry["description"], entry["guidance"]
    if not isinstance(description, str) or not description.strip():
        raise CatalogError(f"{where}: description must be non-empty text")
    if "\n" in description.strip():
        raise CatalogError(f"{where}: description must be one line")
    if not isinstance(guidance, str) or not guidance.strip():
        raise CatalogError(f"{where}: guidance must be non-empty text")
    applies_to = entry.get("applies_to") or []
    if isinstance(applies_to, str) or not isinstance(applies_to, list):
        raise CatalogError(f"{where}: applies_to must be a list of task kinds (empty = all)")
    unknown_kinds = [k for k in applies_to if k not in kinds]
    if unknown_kinds:
        raise CatalogError(
            f"{where}: unknown task kind(s) in applies_to: {', '.join(map(str, unknown_kinds))} "
            f"(add them to task_kinds; known: {', '.join(kinds) or 'none'})"
        )
    return Strategy(
        id=sid,
        family=family,
        name=name,
        description=description.strip(),
        resource=resource,
        guidance=guidance.strip(),
        applies_to=tuple(applies_to),
        target=target,
    )
