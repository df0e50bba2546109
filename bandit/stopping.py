"""Why a run stops besides an exhausted budget (`Budget.exhausted`): the roofline
goal met, no arm left that can yield a new kernel, or a run that cannot go on."""

from __future__ import annotations

from bandit.budget import Budget
from bandit.frontier import Frontier


class TuneError(RuntimeError):
    """The run cannot start or continue (e.g. the reference itself fails); one clear line."""


def goal(budget: Budget, frontier: Frontier) -> str | None:
    """The roofline goal as a stop reason, once the best written kernel meets it."""
    if budget.stop_at_roofline is None:
        return None
    ranked = frontier.ranked(kernels_only=True)
    return budget.reached(ranked[0].measurement.roofline_fraction if ranked else None)


def no_arms(realizer: str, kind: str, device: str, any_arm: bool) -> str:
    """Why no arm is left: the realizer can change nothing more, or nothing applies."""
    if any_arm:
        return f"search exhausted: the {realizer} realizer can change no kernel further"
    return f"no strategy in the catalog applies to task kind {kind!r} on device {device!r}"
