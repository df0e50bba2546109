"""The bandit's arms: a path (kernel cluster -> strategy family -> strategy) in the hierarchy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Arm:
    """One choice the tuner can make: refine a kernel of ``cluster`` with ``strategy``.

    ``strategy`` is the catalog's full id ``"family/name"``; ``family`` repeats its
    first part so policies can group arms without knowing the catalog. Arms sort by
    (cluster, family, strategy), which is how policies break ties deterministically.
    """

    cluster: int
    family: str
    strategy: str

    def __post_init__(self) -> None:
        if isinstance(self.cluster, bool) or not isinstance(self.cluster, int):
            raise TypeError(f"Arm.cluster must be an int, got {self.cluster!r}")
        if not self.family or not self.strategy.startswith(self.family + "/"):
            raise ValueError(
                f"Arm strategy {self.strategy!r} is not a full id of family {self.family!r} "
                "(expected 'family/name')"
            )

    def to_list(self) -> list[int | str]:
        """A JSON-friendly form, the inverse of `Arm.from_list`."""
        return [self.cluster, self.family, self.strategy]

    @classmethod
    def from_list(cls, item: Sequence[int | str]) -> Arm:
        cluster, family, strategy = item
        return cls(int(cluster), str(family), str(strategy))

    def __str__(self) -> str:
        return f"c{self.cluster}:{self.strategy}"
