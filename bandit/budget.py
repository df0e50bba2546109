"""What a tuning run may spend (`Budget`) and what it has spent (`Spend`).

A budget limits any combination of iterations, tokens, USD and wall seconds;
``None`` leaves that resource unlimited, but at least one limit is required so a
run always ends. `Budget.exhausted` names the first limit reached, in the order
iterations, tokens, usd, seconds, e.g. ``"iterations 40/40"``.

``stop_at_roofline`` (a fraction in (0, 1], None = off) is a goal rather than
a limit: `Budget.reached` names it (``"roofline 0.93 >= 0.90"``) once the best
kernel's runtime is within that fraction of the task's physical floor
(floor_ms / runtime_ms), so a run stops when there is little left to gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

_RESOURCES = ("iterations", "tokens", "usd", "seconds")


@dataclass(frozen=True)
class Spend:
    iterations: int = 0
    tokens: int = 0
    usd: float = 0.0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"spend {f.name} must be finite and >= 0, got {value!r}")

    def add(
        self, *, iterations: int = 0, tokens: int = 0, usd: float = 0.0, seconds: float = 0.0
    ) -> Spend:
        """A new `Spend` with these amounts added (this one is unchanged)."""
        return Spend(
            self.iterations + iterations,
            self.tokens + tokens,
            self.usd + usd,
            self.seconds + seconds,
        )


@dataclass(frozen=True)
class Budget:
    iterations: int | None = None
    tokens: int | None = None
    usd: float | None = None
    seconds: float | None = None
    stop_at_roofline: float | None = None

    def __post_init__(self) -> None:
        goal = self.stop_at_roofline
        if goal is not None and (
            isinstance(goal, bool)
            or not isinstance(goal, (int, float))
            or not 0.0 < goal <= 1.0
        ):
            raise ValueError(f"budget stop_at_roofline must be in (0, 1] or null, got {goal!r}")
        limits = {name: getattr(self, name) for name in _RESOURCES}
        if all(v is None for v in limits.values()):
            raise ValueError(
                "a budget needs at least one limit: iterations, tokens, usd or seconds"
            )
        for name, value in limits.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"budget {name} must be a number or null, got {value!r}")
            if name in ("iterations", "tokens") and value != int(value):
                raise ValueError(f"budget {name} must be a whole number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"budget {name} must be a positive number or null, got {value!r}")

    def exhausted(self, spend: Spend) -> str | None:
        """The first limit ``spend`` has reached, as ``"<resource> <spent>/<limit>"``, or None."""
        for name in _RESOURCES:
            limit = getattr(self, name)
            spent = getattr(spend, name)
            if limit is not None and spent >= limit:
                return f"{name} {_fmt(name, spent)}/{_fmt(name, limit)}"
        return None

    def reached(self, roofline_fraction: float | None) -> str | None:
        """The roofline goal as a stop reason once the best kernel meets it, else None."""
        goal = self.stop_at_roofline
        if goal is None or roofline_fraction is None or roofline_fraction < goal:
            return None
        return f"roofline {roofline_fraction:.2f} >= {goal:.2f}"


def _fmt(name: str, value: float) -> str:
    if name in ("iterations", "tokens"):
        return str(int(value))
    if name == "usd":
        return f"{value:.2f}"
    return f"{value:.1f}"
