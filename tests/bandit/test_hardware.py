from __future__ import annotations

from bandit.arms import Arm
from bandit.hardware import HardwareView, Profiled
from bandit.masks import SaturationMask
from profiling.probes.counters import Counters

RES = {"vectorization/wider_vectors": "dram", "parallelism/warps_up": "sm"}
DRAM = Arm(0, "vectorization", "vectorization/wider_vectors")
SM = Arm(0, "parallelism", "parallelism/warps_up")


class FakeProfiler:
    """Counters per source, as a probe would measure them; counts its calls."""

    def __init__(self, by_source: dict[str, Counters | None]) -> None:
        self.by_source, self.calls = by_source, []

    def __call__(self, cid: str, source: str, reference: bool) -> Profiled:
        self.calls.append((cid, reference))
        return Profiled(self.by_source.get(source), 2.5)


def c(dram: float, sm: float) -> Counters:
    return Counters(launches=2, duration_ns=1e5, dram_pct=dram, sm_pct=sm)


def test_profiles_each_parent_once_and_masks_saturated_arms() -> None:
    prof = FakeProfiler({"ref src": c(50, 50), "k1 src": c(93, 20)})
    view = HardwareView(prof, [SaturationMask()], RES)
    r = view.mask({DRAM: ("ref", "ref src"), SM: ("ref", "ref src")}, iteration=1)
    assert r.open == (DRAM, SM) and prof.calls == [("ref", True)]
    r = view.mask({DRAM: ("k1", "k1 src"), SM: ("k1", "k1 src")}, iteration=2)
    assert r.open == (SM,) and "dram at 93%" in r.decisions[0].reason
    view.mask({DRAM: ("k1", "k1 src"), SM: ("k1", "k1 src")}, iteration=3)
    assert prof.calls == [("ref", True), ("k1", False)]  # cached by id
    assert view.profiled == 2 and view.seconds == 5.0
    # one logged event per change of decisions, none while they repeat
    assert [e.iteration for e in view.events] == [2]
    assert view.events[0].to_dict()["decisions"][0]["masked"] is True


def test_without_a_profiler_or_masks_nothing_changes() -> None:
    view = HardwareView()
    assert not view.enabled
    r = view.mask({DRAM: ("k1", "s"), SM: ("k1", "s")}, iteration=1)
    assert r.open == (DRAM, SM) and r.decisions == () and view.events == []
    assert view.ensure("k1", "s") is None
    blind = HardwareView(None, [SaturationMask()], RES)
    assert blind.mask({DRAM: ("k1", "s")}, 1).open == (DRAM,)


def test_remembered_counters_are_not_profiled_again() -> None:
    prof = FakeProfiler({})
    view = HardwareView(prof, [SaturationMask()], RES)
    view.remember("k7", c(95, 90))
    r = view.mask({DRAM: ("k7", "s"), SM: ("k7", "s")}, 4)
    assert prof.calls == [] and r.open == (SM,)  # both saturated: the less saturated kept open


def test_the_reference_is_profiled_but_never_masks_an_arm() -> None:
    """A strategy on the reference is realized as a new kernel, so the reference's own
    saturation (swiglu's eager reference: DRAM 89 %) is no evidence against it."""
    prof = FakeProfiler({"ref src": c(89, 95), "k1 src": c(89, 95)})
    view = HardwareView(prof, [SaturationMask()], RES)
    r = view.mask({DRAM: ("ref", "ref src"), SM: ("ref", "ref src")}, iteration=1)
    assert r.open == (DRAM, SM) and r.decisions == () and view.events == []
    assert prof.calls == [("ref", True)] and view.counters("ref") == c(89, 95)
    r = view.mask({DRAM: ("k1", "k1 src"), SM: ("ref", "ref src")}, iteration=2)
    assert r.open == (SM,) and r.masked == (DRAM,)  # the same counters on a kernel do mask
