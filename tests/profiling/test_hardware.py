import json

import torch

from profiling import hardware
from profiling.hardware import (
    GpuFacts,
    cache_file,
    gpu_facts,
    load_cached_facts,
    save_cached_facts,
)


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


# an entry as written before the IEEE fp32 peak was measured (cache version 1)
OLD_ENTRY = {
    "_version": 1, "name": "NVIDIA H200", "sm_count": 132, "l2_bytes": 62914560,
    "smem_per_block_bytes": 232448, "dram_gbps": 4100.0, "peak_tflops": 720.0,
    "compute_capability": "9.0", "peak_tflops_tf32": 380.0,
}  # fmt: skip


def test_an_older_cache_entry_loads_with_the_fp32_peak_unmeasured(tmp_path):
    path = tmp_path / "gpu_facts.json"
    path.write_text(json.dumps({"NVIDIA H200": OLD_ENTRY}))
    facts = load_cached_facts("NVIDIA H200", path)
    assert facts is not None and facts.peak_tflops_tf32 == 380.0 and facts.dram_gbps == 4100.0
    assert facts.peak_tflops_fp32 == 0.0  # unmeasured: the floor falls back to the TF32 peak


def test_gpu_facts_measures_what_an_older_entry_lacks_and_saves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache_file().parent.mkdir(parents=True)
    cache_file().write_text(json.dumps({"NVIDIA H200": OLD_ENTRY}))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA H200")
    calls = []

    def fake_matmul(dev, dtype, n=8192, tf32=True):
        calls.append((dtype, tf32))
        return 55.0

    monkeypatch.setattr(hardware, "_matmul_tflops", fake_matmul)
    facts = gpu_facts()
    assert calls == [(torch.float32, False)]  # only the missing IEEE fp32 peak is measured
    assert facts.peak_tflops_fp32 == 55.0 and facts.peak_tflops_tf32 == 380.0
    assert load_cached_facts("NVIDIA H200") == facts  # saved back
    assert gpu_facts() == facts and len(calls) == 1  # complete now: nothing measured again


def test_the_fp32_peak_round_trips_through_the_cache(tmp_path):
    path = tmp_path / "gpu_facts.json"
    f = GpuFacts(name="g", dram_gbps=1.0, peak_tflops=2.0, peak_tflops_tf32=1.5,
                 peak_tflops_fp32=0.5)  # fmt: skip
    save_cached_facts(f, path)
    assert load_cached_facts("g", path) == f
