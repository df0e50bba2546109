"""The space walker over the offline realizer (the graph templates), and the realizer
fingerprint."""

from __future__ import annotations

from experiments import TASKS_DIR
from profiling.landscape import source_hash
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.graph.realizer import GraphRealizer
from strategies.space import SpaceWalker, realizer_version


def _walker():
    task = load_task("softmax", None, TASKS_DIR)
    return SpaceWalker(GraphRealizer(), task, load_catalog().runnable(task.kind, "cuda"))


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
    v = realizer_version(GraphRealizer())
    assert v == realizer_version(GraphRealizer()) and len(v) == 12


def test_the_offline_fingerprint_follows_the_templates_and_the_catalog(monkeypatch):
    """`realizer=offline` (alias ``graph``) writes every task's kernels with the templates
    (strategies/graph): an edit there or to the catalog changes its version, an edit to
    code that writes no kernel (the LLM prompt) does not."""
    import strategies.space as space
    from strategies.factory import build_realizer

    offline, graph = build_realizer("offline", {}), build_realizer("graph", {})
    before = realizer_version(offline)
    assert realizer_version(graph) == before == realizer_version(GraphRealizer())
    real_read = space.Path.read_bytes
    edited_file = ""

    def edited(self):
        data = real_read(self)
        return data + b"# edited" if self.name == edited_file else data

    monkeypatch.setattr(space.Path, "read_bytes", edited)
    for edited_file, changes in (("prompt.py", False), ("emit_pointwise.py", True),
                                 ("catalog.yaml", True)):  # fmt: skip
        assert (realizer_version(offline) != before) == changes, edited_file
