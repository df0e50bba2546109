"""The space walker over the offline realizer, and the realizer fingerprint."""

from __future__ import annotations

from experiments import TASKS_DIR
from profiling.landscape import source_hash
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.offline.realizer import OfflineRealizer
from strategies.space import SpaceWalker, realizer_version


def _walker():
    task = load_task("softmax", None, TASKS_DIR)
    return SpaceWalker(OfflineRealizer(), task, load_catalog().runnable(task.kind, "cuda"))


def test_breadth_first_counts_and_chains():
    nodes = list(_walker().breadth_first(2))
    assert nodes[0].depth == 0 and nodes[0].chain == ()
    assert len({n.hash for n in nodes}) == len(nodes)  # every source once
    assert all(n.hash == source_hash(n.source) for n in nodes)
    depth1 = [n for n in nodes if n.depth == 1]
    assert 5 < len(depth1) <= len(_walker().strategies) and all(len(n.chain) == 1 for n in depth1)
    assert all(len(n.chain) == 2 and n.chain[0] in {d.chain[0] for d in depth1}
               for n in nodes if n.depth == 2)


def test_random_walks_are_seeded_and_bounded():
    a = [n.hash for n in _walker().random_walks(20, 4, seed=1)]
    b = [n.hash for n in _walker().random_walks(20, 4, seed=1)]
    assert a == b and len(a) == len(set(a)) == 20
    assert max(n.depth for n in _walker().random_walks(30, 3, seed=2)) <= 3


def test_the_walker_offers_cuda_strategies_on_cuda_only():
    cat = load_catalog()
    on_cuda = cat.runnable("gelu", "cuda")
    on_cpu = cat.runnable("gelu", "interpret")
    assert {s.target for s in on_cpu} == {"triton"} and len(on_cuda) >= len(on_cpu)


def test_the_fingerprint_is_stable_and_short():
    task = load_task("softmax", None, TASKS_DIR)
    v = realizer_version(OfflineRealizer(), task)
    assert v == realizer_version(OfflineRealizer(), task) and len(v) == 12


def test_the_offline_fingerprint_follows_the_code_that_writes_the_task(monkeypatch):
    """`realizer=offline` writes a bundled kind's kernels with its generator
    (strategies/offline) and any other problem's with the templates (strategies/graph):
    an edit to the templates changes the version of the second kind of landscape only."""
    from pathlib import Path

    import strategies.space as space
    from strategies.factory import build_realizer

    bundled = load_task("softmax", None, TASKS_DIR)
    problem = load_task(str(Path(__file__).parent / "kernelbench" / "13_softmax.py"), None,
                        TASKS_DIR)
    offline, graph = build_realizer("offline", {}), build_realizer("graph", {})
    assert offline.code_packages(bundled) == ("strategies.offline",)
    assert offline.code_packages(problem) == ("strategies.graph",)
    assert graph.code_packages(bundled) == ("strategies.graph",)
    before = {t.name: realizer_version(offline, t) for t in (bundled, problem)}
    assert before[bundled.name] == realizer_version(OfflineRealizer(), bundled)
    real_read = space.Path.read_bytes

    def edited(self):
        data = real_read(self)
        return data + b"# edited" if self.name == "emit_pointwise.py" else data

    monkeypatch.setattr(space.Path, "read_bytes", edited)
    assert realizer_version(offline, bundled) == before[bundled.name]
    assert realizer_version(offline, problem) != before[problem.name]
