from __future__ import annotations

import numpy as np

from bandit.clustering import RuntimeClusterer, features, kmeans_pp
from bandit.frontier import Frontier
from profiling.measurement import HarnessDiagnostics, Measurement, ShapeResult, Status, Timing
from profiling.probes.counters import Counters
from strategies.types import Candidate


def meas(ms: float, counters: Counters | None = None, **resources: float) -> Measurement:
    t = Timing(ms, ms, ms, 10)
    return Measurement(
        Status.OK,
        shapes=(ShapeResult("default", t, Timing(1.0, 1.0, 1.0, 10)),),
        counters=counters,
        diagnostics=HarnessDiagnostics(
            n_regs=resources.get("n_regs"),
            shared_bytes=resources.get("shared"),
            num_warps=resources.get("num_warps"),
        ),
    )


def dram_bound(ms: float) -> Measurement:
    return meas(ms, Counters(1, ms * 1e6, sm_pct=20.0, dram_pct=88.0, l2_pct=60.0,
                             occupancy_pct=80.0, registers=32, block_size=128), num_warps=4.0)


def latency_bound(ms: float) -> Measurement:
    return meas(ms, Counters(1, ms * 1e6, sm_pct=15.0, dram_pct=25.0, l2_pct=20.0,
                             occupancy_pct=15.0, registers=200, block_size=1024), num_warps=32.0)


def test_kmeans_pp_finds_two_blobs_deterministically() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 0.1, (20, 3)), rng.normal(5, 0.1, (20, 3))])
    labels, _ = kmeans_pp(x, 2, seed=7)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1
    assert labels[0] != labels[20]
    again, _ = kmeans_pp(x, 2, seed=7)
    assert np.array_equal(labels, again)
    one, c1 = kmeans_pp(x[:3], 5, seed=0)  # k beyond the points: at most n clusters
    assert len(c1) <= 3 and len(one) == 3


def test_features_fall_back_to_compiled_stats() -> None:
    f = features(meas(2.0, n_regs=40.0, shared=8192.0, num_warps=8.0))
    assert f[0] == np.log(2.0) and f[1] == 40 and f[2] == 8 and f[3] == 256
    assert np.isnan(f[4:]).all()


def _run(clusterer: RuntimeClusterer, ms: list[Measurement]) -> tuple[Frontier, list[int]]:
    frontier = Frontier(clusterer)
    out = []
    for i, m in enumerate(ms):
        out.append(frontier.add(Candidate(f"k{i}", f"# {i}\n"), m, i + 1).cluster)
    return frontier, out


def test_behaviour_groups_get_their_own_clusters_and_ids_stay_stable() -> None:
    ms = [dram_bound(0.10 + 0.001 * i) if i % 2 else latency_bound(0.40 + 0.002 * i)
          for i in range(16)]
    clusterer = RuntimeClusterer(clusters=2, every=3, seed=0)
    frontier, labels = _run(clusterer, ms)
    assert labels[:3] == [0, 0, 0]  # fewer than 2k correct kernels: one cluster
    late = labels[6:]
    dram_ids = {c for c, i in zip(late, range(6, 16), strict=True) if i % 2}
    lat_ids = {c for c, i in zip(late, range(6, 16), strict=True) if not i % 2}
    assert len(dram_ids) == 1 and len(lat_ids) == 1 and dram_ids != lat_ids
    assert frontier.clusters() == (0, 1)
    assert clusterer.fits >= 3
    assert [m.cluster for m in frontier] == labels  # assignments never move
    _, again = _run(RuntimeClusterer(clusters=2, every=3, seed=0), ms)
    assert again == labels  # deterministic


def test_one_cluster_and_failures_are_cluster_zero() -> None:
    ms = [dram_bound(0.1), latency_bound(0.5)] * 5
    _, labels = _run(RuntimeClusterer(clusters=1), ms)
    assert set(labels) == {0}
    bad = Measurement(Status.INCORRECT, error="wrong")
    _, labels = _run(RuntimeClusterer(clusters=2, every=1), [*ms, bad])
    assert labels[-1] == 0


def test_clusters_without_any_counters() -> None:
    ms = [meas(0.1 + 0.001 * i, n_regs=32.0, num_warps=4.0) if i % 2 else
          meas(1.0 + 0.01 * i, n_regs=128.0, num_warps=16.0) for i in range(12)]
    _, labels = _run(RuntimeClusterer(clusters=2, every=2), ms)
    assert labels[-1] != labels[-2]
