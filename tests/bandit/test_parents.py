"""Parent selection: near-best kernels first, then the slower ones and the reference."""

from __future__ import annotations

from dataclasses import dataclass

from bandit.arms import Arm
from bandit.frontier import Frontier
from bandit.parents import parents
from bandit.policies.base import ParentRule
from strategies.types import Candidate
from tests.bandit.tuner_fakes import ok

ARM = Arm(0, "tiling", "tiling/rows")
OTHER = Arm(0, "parallelism", "parallelism/warps_up")


@dataclass
class Realizer:
    """Deterministic, and can realize every request but those it is told to refuse."""

    refuse: frozenset[str] = frozenset()
    deterministic: bool = True

    def can_realize(self, request: tuple[Arm, str]) -> bool:
        _arm, parent = request
        return parent not in self.refuse


def frontier() -> Frontier:
    f = Frontier()
    f.add(Candidate("ref", "ref"), ok(10.0), 0)
    f.add(Candidate("fast", "fast"), ok(5.0), 1)  # 2.00x
    f.add(Candidate("close", "close"), ok(5.1), 2)  # 1.96x: within 5 % of the best
    f.add(Candidate("slow", "slow"), ok(8.0), 3)  # 1.25x: outside it
    return f


def pick(tried: set[tuple[str, str]], rule: ParentRule = ParentRule.BEST, **kw) -> dict[str, str]:
    chosen = parents(
        [ARM, OTHER],
        frontier(),
        rule,
        0.05,
        kw.get("realizer", Realizer()),
        tried,
        lambda arm, parent: (arm, parent.id),
        kw.get("order"),
    )
    return {arm.strategy: member.id for arm, member in chosen.items()}


def test_the_fastest_untried_kernel_near_the_best_comes_first() -> None:
    assert pick(set()) == {"tiling/rows": "fast", "parallelism/warps_up": "fast"}
    assert pick({("fast", "tiling/rows")})["tiling/rows"] == "close"


def test_slower_kernels_then_the_reference_once_the_near_best_are_used_up() -> None:
    near = {("fast", "tiling/rows"), ("close", "tiling/rows")}
    assert pick(near)["tiling/rows"] == "slow"
    assert pick(near | {("slow", "tiling/rows")})["tiling/rows"] == "ref"
    everything = near | {("slow", "tiling/rows"), ("ref", "tiling/rows")}
    assert pick(everything) == {"parallelism/warps_up": "fast"}  # the arm is left out


def test_kernels_the_realizer_cannot_serve_are_passed_over() -> None:
    assert pick(set(), realizer=Realizer(frozenset({"fast", "close"})))["tiling/rows"] == "slow"
    none = Realizer(frozenset({"fast", "close", "slow", "ref"}))
    assert pick(set(), realizer=none) == {}


def test_the_order_reranks_the_near_best_only() -> None:
    def reverse(pool, arm):
        return list(reversed(pool))

    assert pick(set(), order=reverse)["tiling/rows"] == "close"
    near = {("fast", "tiling/rows"), ("close", "tiling/rows")}
    assert pick(near, order=reverse)["tiling/rows"] == "slow"  # the fallback keeps its order


def test_the_reference_rule_has_no_fallback() -> None:
    assert pick(set(), ParentRule.REFERENCE)["tiling/rows"] == "ref"
    assert "tiling/rows" not in pick({("ref", "tiling/rows")}, ParentRule.REFERENCE)


def test_a_sampling_realizer_always_refines_the_best() -> None:
    sampling = Realizer(deterministic=False)
    assert pick({("fast", "tiling/rows")}, realizer=sampling)["tiling/rows"] == "fast"
