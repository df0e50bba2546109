from profiling.hardware import GpuFacts, load_cached_facts, save_cached_facts


def test_facts_cache_roundtrip_keyed_by_name(tmp_path):
    path = tmp_path / "kernel-bandit" / "gpu_facts.json"
    a = GpuFacts(name="GPU A", sm_count=132, l2_bytes=50 << 20, dram_gbps=3000.0, peak_tflops=800.0)
    b = GpuFacts(name="GPU B", sm_count=108, dram_gbps=1500.0)
    save_cached_facts(a, path)
    save_cached_facts(b, path)
    assert load_cached_facts("GPU A", path) == a
    assert load_cached_facts("GPU B", path) == b
    assert load_cached_facts("GPU C", path) is None


def test_unreadable_cache_is_a_miss(tmp_path):
    path = tmp_path / "gpu_facts.json"
    path.write_text("{not json")
    assert load_cached_facts("x", path) is None
    save_cached_facts(GpuFacts(name="x"), path)  # overwrites the broken file
    assert load_cached_facts("x", path) == GpuFacts(name="x")


def test_from_dict_ignores_unknown_fields():
    assert GpuFacts.from_dict({"name": "n", "future_field": 1}) == GpuFacts(name="n")
